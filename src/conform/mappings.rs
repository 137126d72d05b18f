//! The product-mappings check: a replacement keeps exactly the mappings sent (and, when
//! the answer carries one, counts them), one naming an item the catalog lacks is
//! refused whole, a replacement with fewer drops the rest, a deleted mapping is gone and
//! a second delete is not found, and suggestions write nothing. The mappings it finds
//! are put back at the end.
//!
//! Everything it sends comes from the spec and from the target's own catalog: the
//! `externalId`s are the packages (and billable items) the target lists, the
//! `internalId` a suggestion's when the target suggests one. A target that refuses a
//! made-up product id leaves the check inconclusive (skipped, with why), since the
//! docs do not say whether product ids are checked.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::breaker::Verdict;
use super::history::entries;
use super::model::{Op, PROVIDERS};
use super::requests::Planner;
use super::{Run, checks, rules};

/// What the check reports when it is skipped.
const WHAT: &str =
    "product mappings are replaced whole, deleted once, and untouched by suggestions";
/// An external id no catalog lists.
const NOT_IN_CATALOG: &str = "conform-not-in-any-catalog";
/// The product id used when the target suggests none.
const MADE_UP_PRODUCT: &str = "conform-product-0001";

impl Run<'_> {
    /// Maps the staged provider's packages; see the module's comment.
    pub(super) fn product_mappings(&mut self) {
        let base = "/integrations/practicehub";
        let routes = [
            ("GET", format!("{base}/packages")),
            ("GET", format!("{base}/product-mappings")),
            ("PUT", format!("{base}/product-mappings")),
            ("DELETE", format!("{base}/product-mappings/conform")),
        ];
        let needed = [Op::Activate(0, None), Op::Get(0), Op::Deactivate(0)];
        let lacking = self.lacking(&needed, &routes);
        self.staged_check(checks::MAPPINGS, WHAT, lacking, |run, i, trail| {
            run.follow_mappings(i, trail)
        });
    }

    fn follow_mappings(&mut self, i: usize, trail: &mut Vec<String>) -> Result<(), Verdict> {
        // The staged provider first; another when its catalog is too small to map two
        // items (a terminal may sell no packages), left inactive again afterwards.
        let order = std::iter::once(i).chain((0..PROVIDERS.len()).filter(|&j| j != i));
        let mut sizes = Vec::new();
        for j in order {
            let catalog = self.activate_and_list(j, trail)?;
            if catalog.len() >= 2 {
                let verdict = self.map_and_check(j, &catalog, trail);
                if j != i {
                    self.breaker_step(&mut Vec::new(), &Op::Deactivate(j), None)?;
                }
                return verdict;
            }
            sizes.push(format!("{} lists {}", PROVIDERS[j], catalog.len()));
            if j != i {
                self.breaker_step(&mut Vec::new(), &Op::Deactivate(j), None)?;
            }
        }
        Err(Verdict::Skip(format!(
            "no provider's catalog has two packages or billable items to map ({})",
            sizes.join(", ")
        )))
    }

    /// Activates provider `j` afresh and lists its packages and billable items' ids.
    fn activate_and_list(
        &mut self,
        j: usize,
        trail: &mut Vec<String>,
    ) -> Result<Vec<String>, Verdict> {
        let base = format!("/integrations/{}", PROVIDERS[j]);
        let r = self.breaker_step(trail, &Op::Get(j), None)?;
        if r.json.as_ref().and_then(|x| x.pointer("/data/isActive")) == Some(&json!(true)) {
            self.breaker_step(trail, &Op::Deactivate(j), None)?;
        }
        let activate = Planner::new(&self.cfg.contract, self.cfg.credentials.clone())
            .plan(&Op::Activate(j, None));
        let r = self.breaker_step(trail, &Op::Activate(j, None), activate.body)?;
        if r.credentials_rejected() {
            return Err(Verdict::Skip(
                "the target's provider rejected the run's credentials (pass --credentials it accepts)".into(),
            ));
        }
        self.ok_status(&Op::Activate(j, None), &r)?;
        let mut catalog = ids(&self.get_json(trail, &format!("{base}/packages"))?, "id");
        let items = format!("{base}/billable-items");
        if self.planner.operation("GET", &items).is_some() {
            catalog.extend(ids(&self.get_json(trail, &items)?, "id"));
        }
        Ok(catalog)
    }

    /// The checks proper, on provider `j`'s active integration and its `catalog`.
    fn map_and_check(
        &mut self,
        j: usize,
        catalog: &[String],
        trail: &mut Vec<String>,
    ) -> Result<(), Verdict> {
        let base = format!("/integrations/{}", PROVIDERS[j]);
        let mappings = format!("{base}/product-mappings");
        let before = self.get_json(trail, &mappings)?;
        let product = self.suggested_product(trail, &base, catalog)?;
        let pair = [catalog[0].clone(), catalog[1].clone()];
        let body = |ids: &[String]| {
            let list: Vec<Value> = ids
                .iter()
                .map(|id| json!({"externalId": id, "internalId": product}))
                .collect();
            json!({ "mappings": list })
        };

        // Replace with two: both kept, counted when the answer counts.
        let r = self.raw_step(trail, "PUT", &mappings, Some(body(&pair)))?;
        if r.status == 400 && product == MADE_UP_PRODUCT {
            return Err(Verdict::Skip(format!(
                "the target refused the made-up product id {MADE_UP_PRODUCT} and suggested none to use instead"
            )));
        }
        self.expect_2xx(&r, "PUT", &mappings)?;
        if let Some(count) = r
            .json
            .as_ref()
            .and_then(|j| j.get("count"))
            .and_then(Value::as_u64)
            && count != 2
        {
            return Err(Verdict::Fail(
                &rules::MAPPINGS_KEPT,
                format!("PUT {mappings} with 2 mappings answered count {count}"),
            ));
        }
        self.mapped_exactly(trail, &mappings, &pair, "after a replacement with two")?;
        // A replacement naming an item the catalog lacks is refused whole (when the spec
        // documents a 400 for it: the docs list one).
        let refusable = self
            .planner
            .operation("PUT", &mappings)
            .is_some_and(|op| op.statuses().contains(&crate::spec::StatusKey::Code(400)));
        if refusable {
            let mut bad = body(&pair[..1]);
            bad["mappings"]
                .as_array_mut()
                .into_iter()
                .for_each(|l| l.push(json!({"externalId": NOT_IN_CATALOG, "internalId": product})));
            let r = self.raw_step(trail, "PUT", &mappings, Some(bad))?;
            if r.status != 400 {
                return Err(Verdict::Fail(
                    &rules::MAPPINGS_CATALOG,
                    format!(
                        "PUT {mappings} naming {NOT_IN_CATALOG}, which the catalog does not list: expected 400, got {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ),
                ));
            }
            self.mapped_exactly(
                trail,
                &mappings,
                &pair,
                "after a refused replacement (nothing written)",
            )?;
        }
        // Replace with one: the other is gone.
        let r = self.raw_step(trail, "PUT", &mappings, Some(body(&pair[..1])))?;
        self.expect_2xx(&r, "PUT", &mappings)?;
        self.mapped_exactly(
            trail,
            &mappings,
            &pair[..1],
            "after a replacement with one (replace-all)",
        )?;
        // Suggestions write nothing.
        let suggest = format!("{base}/suggest-mappings");
        if self.planner.operation("POST", &suggest).is_some() {
            let items = json!({"externalItems": [{"id": pair[1], "name": "Conform Package", "source": "package"}]});
            let r = self.raw_step(trail, "POST", &suggest, Some(items))?;
            self.expect_2xx(&r, "POST", &suggest)?;
            self.mapped_exactly(trail, &mappings, &pair[..1], "after a suggestion")?;
        }
        // Delete, then the second delete is not found.
        let one = format!("{mappings}/{}", pair[0]);
        let r = self.raw_step(trail, "DELETE", &one, None)?;
        self.expect_2xx(&r, "DELETE", &one)?;
        self.mapped_exactly(trail, &mappings, &[], "after deleting the last mapping")?;
        let r = self.raw_step(trail, "DELETE", &one, None)?;
        let documented = self
            .planner
            .operation("DELETE", &one)
            .is_some_and(|op| op.statuses().contains(&crate::spec::StatusKey::Code(404)));
        if documented && r.status != 404 {
            return Err(Verdict::Fail(
                &rules::MAPPINGS_KEPT,
                format!(
                    "DELETE {one} a second time: expected 404, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        // Put back what was there.
        let kept: Vec<Value> = entries(&before)
            .into_iter()
            .filter_map(|m| {
                Some(json!({
                    "externalId": m.get("externalId")?.clone(),
                    "internalId": m.get("internalId")?.clone(),
                }))
            })
            .collect();
        if !kept.is_empty() {
            let r = self.raw_step(trail, "PUT", &mappings, Some(json!({ "mappings": kept })))?;
            self.expect_2xx(&r, "PUT", &mappings)?;
        }
        Ok(())
    }

    /// A product id the target suggests for one of `catalog`'s items, else a made-up one.
    fn suggested_product(
        &mut self,
        trail: &mut Vec<String>,
        base: &str,
        catalog: &[String],
    ) -> Result<String, Verdict> {
        let suggest = format!("{base}/suggest-mappings");
        if self.planner.operation("POST", &suggest).is_none() {
            return Ok(MADE_UP_PRODUCT.into());
        }
        let items: Vec<Value> = catalog
            .iter()
            .map(|id| json!({"id": id, "name": id, "source": "package"}))
            .collect();
        let r = self.raw_step(
            trail,
            "POST",
            &suggest,
            Some(json!({ "externalItems": items })),
        )?;
        Ok(r.json
            .as_ref()
            .and_then(|j| j.pointer("/suggestions/0/internalId"))
            .and_then(Value::as_str)
            .map_or_else(|| MADE_UP_PRODUCT.into(), str::to_owned))
    }

    /// The mappings listed are exactly `want` (by `externalId`).
    fn mapped_exactly(
        &mut self,
        trail: &mut Vec<String>,
        path: &str,
        want: &[String],
        when: &str,
    ) -> Result<(), Verdict> {
        let got: BTreeSet<String> = ids(&self.get_json(trail, path)?, "externalId")
            .into_iter()
            .collect();
        let want: BTreeSet<String> = want.iter().cloned().collect();
        if got != want {
            return Err(Verdict::Fail(
                &rules::MAPPINGS_KEPT,
                format!("GET {path} {when}: expected the mappings {want:?}, listed {got:?}"),
            ));
        }
        Ok(())
    }

    fn expect_2xx(
        &self,
        r: &super::client::Response,
        method: &str,
        path: &str,
    ) -> Result<(), Verdict> {
        if (200..300).contains(&r.status) {
            return Ok(());
        }
        Err(Verdict::Fail(
            &rules::STEP_STATUS,
            format!(
                "{method} {path}: expected 2xx, got {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        ))
    }
}

/// The `field` of each item, as text (the SDKs type catalog ids as string or number).
fn ids(page: &Value, field: &str) -> Vec<String> {
    entries(page)
        .iter()
        .filter_map(|e| match e.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}
