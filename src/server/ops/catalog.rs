//! Provider catalogs and mappings: payment methods (stored or temporary credentials),
//! payment mappings, packages, billable items, product mappings, suggestions and the
//! packages syncs met unmapped. Field casing follows the SDKs (`sort_order`,
//! `public_name`, `charge_type` are snake_case there; the rest camelCase).

use std::collections::HashMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::lifecycle::unexpected;
use super::{Call, Data, write};
use crate::api::ApiError;
use crate::api::render::Rfc3339;
use crate::sim::{
    Behaviour, BillableItem, Catalog, ChargeType, Command, Credentials, ExternalItem, Outcome,
    Package, PaymentMapping, PaymentMethod, Product, ProductMapping, SimError, Suggestion,
    UnmappedAttempt, suggest,
};

/// The catalog and mapping operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `listIntegrationPaymentMethods`.
    PaymentMethods,
    /// `previewIntegrationPaymentMethods`.
    PreviewPaymentMethods,
    /// `updateIntegrationPaymentMappings`.
    PaymentMappings,
    /// `listIntegrationPackages`.
    Packages,
    /// `listIntegrationBillableItems`.
    BillableItems,
    /// `listIntegrationProductMappings`.
    ProductMappings,
    /// `replaceIntegrationProductMappings`.
    ReplaceProductMappings,
    /// `deleteIntegrationProductMapping`.
    DeleteProductMapping,
    /// `suggestIntegrationMappings`.
    Suggest,
    /// `listIntegrationUnmappedAttempts`.
    UnmappedAttempts,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "listIntegrationPaymentMethods" => Op::PaymentMethods,
            "previewIntegrationPaymentMethods" => Op::PreviewPaymentMethods,
            "updateIntegrationPaymentMappings" => Op::PaymentMappings,
            "listIntegrationPackages" => Op::Packages,
            "listIntegrationBillableItems" => Op::BillableItems,
            "listIntegrationProductMappings" => Op::ProductMappings,
            "replaceIntegrationProductMappings" => Op::ReplaceProductMappings,
            "deleteIntegrationProductMapping" => Op::DeleteProductMapping,
            "suggestIntegrationMappings" => Op::Suggest,
            "listIntegrationUnmappedAttempts" => Op::UnmappedAttempts,
            _ => return None,
        })
    }
}

/// A `PaymentMethod` (`sort_order` is snake_case in the SDKs).
#[derive(Serialize)]
struct MethodView<'a> {
    id: u32,
    name: &'a str,
    active: bool,
    sort_order: u32,
}

fn method(m: &PaymentMethod) -> MethodView<'_> {
    MethodView {
        id: m.id,
        name: &m.name,
        active: m.active,
        sort_order: m.sort_order,
    }
}

/// A price in minor units, as the major-unit number the SDKs type.
fn price(minor: u32) -> f64 {
    f64::from(minor) / 100.0
}

/// A `Package`.
#[derive(Serialize)]
struct PackageView<'a> {
    id: &'a str,
    name: &'a str,
    public_name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    package_type: &'static str,
    charge_type: ChargeType,
    price: f64,
    visits: Option<u32>,
    active: bool,
}

fn package(p: &Package) -> PackageView<'_> {
    PackageView {
        id: &p.id,
        name: &p.name,
        public_name: p.public_name.as_deref(),
        kind: "package",
        package_type: p.package_type.as_str(),
        charge_type: p.charge_type,
        price: price(p.price_minor),
        visits: p.visits,
        active: p.active,
    }
}

/// A `BillableItem`.
#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    charge_type: ChargeType,
    price: f64,
    source: &'static str,
}

fn item(b: &BillableItem) -> ItemView<'_> {
    ItemView {
        id: &b.id,
        name: &b.name,
        kind: b.item_type.as_str(),
        charge_type: b.charge_type,
        price: price(b.price_minor),
        source: "invoice",
    }
}

/// A `ProductMapping` as listed: the catalog's name for the item, the product's fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MappingView {
    external_id: String,
    external_name: Option<String>,
    internal_id: String,
    product_name: Option<String>,
    product_kind: Option<ChargeType>,
    product_amount_minor: Option<u64>,
    product_currency: Option<String>,
    metadata: Option<Value>,
}

/// A mapping as listed; `names` is the catalog's [`Catalog::item_names`], built once
/// per list (a list of 500 mappings would otherwise scan the catalog 500 times).
fn mapping(m: &ProductMapping, names: &HashMap<&str, &str>, products: &[Product]) -> MappingView {
    let product = products.iter().find(|p| p.id == m.internal_id);
    let sent_name = m.metadata.as_ref().and_then(|md| md.name.clone());
    MappingView {
        external_id: m.external_id.clone(),
        external_name: names
            .get(m.external_id.as_str())
            .map(|n| (*n).to_owned())
            .or(sent_name),
        internal_id: m.internal_id.clone(),
        product_name: product.map(|p| p.name.clone()),
        product_kind: product.map(|p| p.kind),
        product_amount_minor: product.map(|p| p.amount_minor),
        product_currency: product.map(|p| p.currency.clone()),
        metadata: m
            .metadata
            .as_ref()
            .map(|md| serde_json::to_value(md).unwrap_or(Value::Null)),
    }
}

/// An `UnmappedAttempt`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptView<'a> {
    external_package_id: &'a str,
    external_package_name: Option<&'a str>,
    count: u32,
    last_seen_at: Rfc3339,
}

fn attempt(a: &UnmappedAttempt) -> AttemptView<'_> {
    AttemptView {
        external_package_id: &a.external_package_id,
        external_package_name: a.external_package_name.as_deref(),
        count: a.count,
        last_seen_at: Rfc3339(a.last_seen_at),
    }
}

#[derive(Deserialize)]
struct PaymentMappingsBody {
    mappings: Vec<PaymentMapping>,
}

#[derive(Deserialize)]
struct ProductMappingsBody {
    mappings: Vec<ProductMapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreviewBody {
    base_url: String,
    api_key: String,
    contact_email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuggestBody {
    external_items: Vec<ItemBody>,
}

#[derive(Deserialize)]
struct ItemBody {
    id: Value,
    name: String,
    charge_type: Option<String>,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    let provider = call.provider()?;
    let not_active = || ApiError::from(SimError::NotFound { provider });
    match op {
        Op::PaymentMethods | Op::Packages | Op::BillableItems => call
            .read(|v| {
                let catalog = v.catalog(provider)?;
                Some(match op {
                    Op::PaymentMethods => write(&Data::ok(
                        catalog
                            .payment_methods
                            .iter()
                            .map(method)
                            .collect::<Vec<_>>(),
                    )),
                    Op::Packages => write(&Data::ok(
                        catalog.packages.iter().map(package).collect::<Vec<_>>(),
                    )),
                    _ => write(&Data::ok(
                        catalog.billable_items.iter().map(item).collect::<Vec<_>>(),
                    )),
                })
            })
            .await?
            .ok_or_else(not_active)?,
        Op::PreviewPaymentMethods => {
            let b: PreviewBody = call.body()?;
            let credentials = Credentials {
                api_key: b.api_key,
                base_url: b.base_url,
                app_name: None,
                app_email: b.contact_email,
            };
            Behaviour::of(&credentials.api_key)
                .check_credentials(provider)
                .map_err(|reason| SimError::CredentialsRejected { provider, reason })
                .map_err(|e| {
                    let mut api = ApiError::from(e);
                    api.param = Some("apiKey".into());
                    api
                })?;
            let catalog = Catalog::derive(call.store.config().seed, provider, &credentials);
            write(&Data::ok(
                catalog
                    .payment_methods
                    .iter()
                    .map(method)
                    .collect::<Vec<_>>(),
            ))
        }
        Op::ProductMappings => call
            .read(|v| {
                let catalog = v.catalog(provider)?;
                let products = v.products();
                let names = catalog.item_names();
                let views: Vec<MappingView> = v
                    .setup(provider)
                    .product_mappings
                    .iter()
                    .map(|m| mapping(m, &names, &products))
                    .collect();
                Some(write(&Data::ok(views)))
            })
            .await?
            .ok_or_else(not_active)?,
        Op::UnmappedAttempts => call
            .read(|v| {
                v.catalog(provider)?;
                let data: Vec<AttemptView> =
                    v.setup(provider).unmapped.iter().map(attempt).collect();
                let total_count = data.len();
                Some(write(&json!({
                    "success": true,
                    "data": data,
                    "totalCount": total_count,
                })))
            })
            .await?
            .ok_or_else(not_active)?,
        Op::Suggest => {
            let b: SuggestBody = call.body()?;
            let items: Vec<ExternalItem> = b
                .external_items
                .into_iter()
                .map(|i| ExternalItem {
                    // A number id is answered as its string, like every id the mock sends.
                    id: match i.id {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    name: i.name,
                    charge_type: i.charge_type.and_then(|c| c.parse().ok()),
                })
                .collect();
            let suggestions: Vec<Suggestion> =
                call.read(|v| suggest(&items, &v.products())).await?;
            write(&json!({ "success": true, "suggestions": suggestions }))
        }
        Op::PaymentMappings => {
            let b: PaymentMappingsBody = call.body()?;
            match call
                .command(provider, Command::PutPaymentMappings(b.mappings))
                .await?
            {
                Outcome::Updated => write(&json!({ "success": true })),
                other => unexpected(other),
            }
        }
        Op::ReplaceProductMappings => {
            let b: ProductMappingsBody = call.body()?;
            match call
                .command(provider, Command::PutProductMappings(b.mappings))
                .await?
            {
                Outcome::MappingsReplaced { count } => {
                    write(&json!({ "success": true, "count": count }))
                }
                other => unexpected(other),
            }
        }
        Op::DeleteProductMapping => {
            let external_id = call
                .params
                .get("externalId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match call
                .command(provider, Command::DeleteProductMapping { external_id })
                .await?
            {
                Outcome::Updated => write(&json!({ "success": true })),
                other => unexpected(other),
            }
        }
    }
}
