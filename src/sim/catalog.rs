//! What a provider account sells and takes, and how the merchant maps it to RevKeen:
//! the provider's catalog (payment methods, packages, billable items), the merchant's
//! RevKeen products, product mappings, the packages syncs met unmapped, and mapping
//! suggestions by name similarity.
//!
//! A catalog is a pure function of the simulation's seed, the provider and the
//! credentials (`Catalog::derive`), so a frontend developer sees the same packages every
//! day; a fixture or the admin API may set one explicitly instead.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::provider::{Credentials, Provider};
use super::time::Timestamp;

super::wire::wire_enum! {
    /// Whether an item is billed once or on a schedule.
    pub enum ChargeType ("charge type") {
        /// Billed once.
        OneTime = "one_time",
        /// Billed every period.
        Recurring = "recurring",
    }
}

super::wire::wire_enum! {
    /// What a provider package is.
    pub enum PackageType ("package type") {
        /// A membership (recurring access).
        Membership = "membership",
        /// A pack of visits or classes.
        ClassPack = "class_pack",
        /// A single service.
        Service = "service",
        /// A course of sessions.
        Course = "course",
    }
}

super::wire::wire_enum! {
    /// What a billable line item is.
    pub enum ItemType ("item type") {
        /// A service billed on an invoice.
        Service = "service",
        /// A product sold.
        Product = "product",
        /// A fee (late cancellation, missed appointment).
        Fee = "fee",
    }
}

/// A payment method the provider accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentMethod {
    /// The provider's id (a number, as the SDKs type it).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Whether the provider still offers it.
    pub active: bool,
    /// Display order.
    pub sort_order: u32,
}

/// A package the provider sells (a membership, a class pack, a service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Package {
    /// The provider's id, an `externalId` of a product mapping.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The name customers see, when the provider has one.
    #[serde(default)]
    pub public_name: Option<String>,
    /// What it is.
    pub package_type: PackageType,
    /// How it is billed.
    pub charge_type: ChargeType,
    /// The price, in minor units of the provider's currency.
    pub price_minor: u32,
    /// Visits it grants (class packs and courses).
    #[serde(default)]
    pub visits: Option<u32>,
    /// Whether it is on sale (syncs meet only packages on sale).
    pub active: bool,
}

/// A line item the provider bills on invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BillableItem {
    /// The provider's id, an `externalId` of a product mapping.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub item_type: ItemType,
    /// How it is billed.
    pub charge_type: ChargeType,
    /// The price, in minor units.
    pub price_minor: u32,
}

/// One provider account's catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    /// Payment methods.
    #[serde(default)]
    pub payment_methods: Vec<PaymentMethod>,
    /// Packages.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Billable items.
    #[serde(default)]
    pub billable_items: Vec<BillableItem>,
}

/// A product of the merchant's RevKeen catalog, the `internalId` side of a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    /// RevKeen's product id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How it is billed.
    pub kind: ChargeType,
    /// Its price, in minor units.
    pub amount_minor: u64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// What a client may say about the external item of a mapping (kept as sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingMetadata {
    /// The item's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The item's type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub item_type: Option<String>,
    /// The item's charge type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<String>,
}

/// A provider package or billable item mapped to a RevKeen product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductMapping {
    /// The provider's package or billable item id.
    pub external_id: String,
    /// The RevKeen product id (one the product list does not know shows no product).
    pub internal_id: String,
    /// What the client said about the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MappingMetadata>,
}

/// A package that syncs met with no mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnmappedAttempt {
    /// The package's id.
    pub external_package_id: String,
    /// Its name when the sync met it.
    pub external_package_name: Option<String>,
    /// Syncs that met it unmapped.
    pub count: u32,
    /// The last of them.
    pub last_seen_at: Timestamp,
}

/// One provider's mapping state: an explicit catalog (else derived), the product
/// mappings and the unmapped attempts. Kept across deactivation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    /// A catalog set by a fixture or the admin API, instead of the derived one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Box<Catalog>>,
    /// The product mappings, in the order the last replacement sent them.
    #[serde(default)]
    pub product_mappings: Vec<ProductMapping>,
    /// Packages met unmapped, in the order first met.
    #[serde(default)]
    pub unmapped: Vec<UnmappedAttempt>,
}

/// A suggested mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// The external item.
    pub external_id: String,
    /// The best RevKeen product.
    pub internal_id: String,
    /// 0 to 1, two decimals.
    pub confidence: f64,
    /// Why, in a sentence.
    pub reasoning: String,
}

/// An external item to suggest a mapping for (`externalItems[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalItem {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its charge type, when sent and known.
    pub charge_type: Option<ChargeType>,
}

/// The least confidence a suggestion needs; items with no product this close get none.
pub const MIN_CONFIDENCE: f64 = 0.4;

/// The catalogs the providers are generated from: (name, type, charge, price, visits).
type PackageTemplate = (&'static str, PackageType, ChargeType, u32, Option<u32>);
type ItemTemplate = (&'static str, ItemType, u32);

const PRACTICEHUB_PACKAGES: &[PackageTemplate] = &[
    (
        "Initial Consultation",
        PackageType::Service,
        ChargeType::OneTime,
        8500,
        None,
    ),
    (
        "Follow-up Appointment",
        PackageType::Service,
        ChargeType::OneTime,
        6000,
        None,
    ),
    (
        "Physio 5-Session Pack",
        PackageType::ClassPack,
        ChargeType::OneTime,
        27500,
        Some(5),
    ),
    (
        "Physio 10-Session Pack",
        PackageType::ClassPack,
        ChargeType::OneTime,
        50000,
        Some(10),
    ),
    (
        "Monthly Wellness Plan",
        PackageType::Membership,
        ChargeType::Recurring,
        4900,
        None,
    ),
    (
        "Annual Wellness Plan",
        PackageType::Membership,
        ChargeType::Recurring,
        49900,
        None,
    ),
    (
        "Sports Massage 60 min",
        PackageType::Service,
        ChargeType::OneTime,
        7000,
        None,
    ),
    (
        "Clinical Pilates Course",
        PackageType::Course,
        ChargeType::OneTime,
        12000,
        Some(6),
    ),
];
const WODIFY_PACKAGES: &[PackageTemplate] = &[
    (
        "Unlimited Monthly Membership",
        PackageType::Membership,
        ChargeType::Recurring,
        16900,
        None,
    ),
    (
        "3x Week Membership",
        PackageType::Membership,
        ChargeType::Recurring,
        13900,
        None,
    ),
    (
        "10-Class Punch Card",
        PackageType::ClassPack,
        ChargeType::OneTime,
        20000,
        Some(10),
    ),
    (
        "Drop-In Class",
        PackageType::ClassPack,
        ChargeType::OneTime,
        2500,
        Some(1),
    ),
    (
        "Personal Training 5-Pack",
        PackageType::ClassPack,
        ChargeType::OneTime,
        37500,
        Some(5),
    ),
    (
        "Foundations Course",
        PackageType::Course,
        ChargeType::OneTime,
        15000,
        Some(6),
    ),
    (
        "Open Gym Monthly",
        PackageType::Membership,
        ChargeType::Recurring,
        8900,
        None,
    ),
    (
        "Annual Membership",
        PackageType::Membership,
        ChargeType::Recurring,
        159900,
        None,
    ),
];
const PRACTICEHUB_ITEMS: &[ItemTemplate] = &[
    ("X-Ray Referral", ItemType::Service, 4500),
    ("Orthotic Insoles", ItemType::Product, 12000),
    ("Missed Appointment Fee", ItemType::Fee, 3000),
    ("Medical Report", ItemType::Service, 5000),
    ("Kinesiology Tape", ItemType::Product, 800),
];
const WODIFY_ITEMS: &[ItemTemplate] = &[
    ("Chalk Bag", ItemType::Product, 1500),
    ("Protein Shake", ItemType::Product, 500),
    ("Late Cancellation Fee", ItemType::Fee, 1000),
    ("Gym T-Shirt", ItemType::Product, 2500),
];
const METHODS: [&[&str]; 3] = [
    &[
        "Cash",
        "Card",
        "Bank Transfer",
        "Cheque",
        "Insurance",
        "Gift Voucher",
    ],
    &["Credit Card", "ACH", "Cash", "Check", "Account Credit"],
    &["Card Present", "Contactless", "Manual Entry"],
];
/// The RevKeen products a merchant starts with: (name, kind, amount).
const PRODUCTS: &[(&str, ChargeType, u64)] = &[
    ("Initial Consultation", ChargeType::OneTime, 8500),
    ("Follow-up Visit", ChargeType::OneTime, 6000),
    ("Physio Session Pack (10)", ChargeType::OneTime, 50000),
    ("Wellness Membership - Monthly", ChargeType::Recurring, 4900),
    ("Unlimited Membership", ChargeType::Recurring, 16900),
    ("Class Pack - 10 Classes", ChargeType::OneTime, 20000),
    ("Drop-in Class", ChargeType::OneTime, 2500),
    ("Personal Training Session", ChargeType::OneTime, 7500),
];

/// A small generator seeded from text (FNV-1a, then fastrand).
fn rng_of(seed: u64, parts: &[&str]) -> fastrand::Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fastrand::Rng::with_seed(h)
}

/// `price` moved by up to ±20%, to whole 50s of minor units.
fn jitter(rng: &mut fastrand::Rng, price: u32) -> u32 {
    let pct = rng.u32(80..=120);
    (price / 100 * pct / 50 * 50).max(50)
}

impl Catalog {
    /// The catalog a provider account shows: a function of the seed, the provider and
    /// the credentials (`apiKey` and `baseUrl`) only. A terminal sells no packages.
    pub fn derive(seed: u64, provider: Provider, credentials: &Credentials) -> Catalog {
        let mut rng = rng_of(
            seed,
            &[
                provider.as_str(),
                &credentials.api_key,
                &credentials.base_url,
            ],
        );
        let (packages, items): (&[PackageTemplate], &[ItemTemplate]) = match provider {
            Provider::Practicehub => (PRACTICEHUB_PACKAGES, PRACTICEHUB_ITEMS),
            Provider::Wodify => (WODIFY_PACKAGES, WODIFY_ITEMS),
            Provider::Terminal => (&[], &[]),
        };
        let mut next_id = rng.u32(1000..9000);
        let mut id = || {
            next_id += rng.u32(1..20);
            next_id
        };
        let mut rng = rng_of(seed ^ 1, &[provider.as_str(), &credentials.api_key]);
        let payment_methods = METHODS[provider.index()]
            .iter()
            .enumerate()
            .map(|(k, name)| PaymentMethod {
                id: id(),
                name: (*name).to_owned(),
                active: k < 2 || rng.u8(..100) >= 20,
                sort_order: k as u32 + 1,
            })
            .collect();
        // Each template is on sale with probability 3/4; at least three always are.
        let mut on_sale = Vec::new();
        for (k, &(name, package_type, charge_type, price, visits)) in packages.iter().enumerate() {
            if k >= 3 && rng.u8(..4) == 0 {
                continue;
            }
            on_sale.push(Package {
                id: format!("pkg_{}", id()),
                name: name.to_owned(),
                public_name: (package_type == PackageType::Membership)
                    .then(|| format!("{name} (online)")),
                package_type,
                charge_type,
                price_minor: jitter(&mut rng, price),
                visits,
                // One package in five past the first three is retired (kept in the
                // catalog, never met by syncs).
                active: k < 3 || rng.u8(..5) != 0,
            });
        }
        let mut billable_items = Vec::new();
        for &(name, item_type, price) in items {
            if rng.u8(..5) == 0 {
                continue;
            }
            billable_items.push(BillableItem {
                id: format!("item_{}", id()),
                name: name.to_owned(),
                item_type,
                charge_type: ChargeType::OneTime,
                price_minor: jitter(&mut rng, price),
            });
        }
        let packages = on_sale;
        Catalog {
            payment_methods,
            packages,
            billable_items,
        }
    }

    /// Checks a replacement set of product mappings: every `externalId` is a package or
    /// billable item of this catalog, and none appears twice.
    pub fn check_product_mappings(
        &self,
        provider: Provider,
        mappings: &[ProductMapping],
    ) -> Result<(), SimError> {
        let known = self.item_names();
        let ids = mappings.iter().map(|m| m.external_id.as_str());
        check_ids(provider, "externalId", ids, |id| known.contains_key(id))
    }

    /// Checks a replacement set of payment mappings: every `practiceHubMethodId` is one
    /// of this catalog's payment methods, and no mapping `id` appears twice.
    pub fn check_payment_mappings(
        &self,
        provider: Provider,
        mappings: &[super::integration::PaymentMapping],
    ) -> Result<(), SimError> {
        let mut seen = HashSet::new();
        for (index, m) in mappings.iter().enumerate() {
            if !seen.insert(m.id.as_str()) {
                return Err(SimError::DuplicateMapping {
                    index,
                    field: "id",
                    id: m.id.clone(),
                });
            }
        }
        let known: HashSet<String> = self
            .payment_methods
            .iter()
            .map(|m| m.id.to_string())
            .collect();
        let ids = mappings.iter().map(|m| m.practice_hub_method_id.as_str());
        // Duplicates are allowed here: two RevKeen methods may land on one provider method.
        match ids.enumerate().find(|(_, id)| !known.contains(*id)) {
            Some((index, id)) => Err(SimError::UnknownExternalId {
                provider,
                index,
                field: "practiceHubMethodId",
                id: id.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Checks what serde cannot: no id twice among the payment methods, nor among the
    /// packages and billable items together (a mapping names one of them by id).
    pub fn validate(&self) -> Result<(), String> {
        let mut methods = HashSet::new();
        if let Some(m) = self.payment_methods.iter().find(|m| !methods.insert(m.id)) {
            return Err(format!("paymentMethods: the id {} appears twice", m.id));
        }
        let mut items = HashSet::new();
        let ids = self
            .packages
            .iter()
            .map(|p| p.id.as_str())
            .chain(self.billable_items.iter().map(|b| b.id.as_str()));
        for id in ids {
            if id.is_empty() {
                return Err("packages and billableItems: an id is empty".into());
            }
            if !items.insert(id) {
                return Err(format!(
                    "packages and billableItems: the id {id} appears twice"
                ));
            }
        }
        Ok(())
    }

    /// The name of every package and billable item, by id (what a mapping may name).
    pub fn item_names(&self) -> HashMap<&str, &str> {
        let mut names = HashMap::with_capacity(self.packages.len() + self.billable_items.len());
        names.extend(
            self.packages
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str())),
        );
        names.extend(
            self.billable_items
                .iter()
                .map(|b| (b.id.as_str(), b.name.as_str())),
        );
        names
    }
}

/// Every id known (`known`) and none twice, else the first problem, by index.
fn check_ids<'a>(
    provider: Provider,
    field: &'static str,
    ids: impl ExactSizeIterator<Item = &'a str>,
    known: impl Fn(&str) -> bool,
) -> Result<(), SimError> {
    let mut seen = HashSet::with_capacity(ids.len());
    for (index, id) in ids.enumerate() {
        if !known(id) {
            return Err(SimError::UnknownExternalId {
                provider,
                index,
                field,
                id: id.to_owned(),
            });
        }
        if !seen.insert(id) {
            return Err(SimError::DuplicateMapping {
                index,
                field,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks a product list: ids non-empty and unique, currencies ISO 4217-shaped.
pub fn validate_products(products: &[Product]) -> Result<(), String> {
    let mut ids = HashSet::new();
    for (k, p) in products.iter().enumerate() {
        if p.id.is_empty() || !ids.insert(p.id.as_str()) {
            return Err(format!(
                "products[{k}].id: empty, or {} appears twice",
                p.id
            ));
        }
        if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "products[{k}].currency: {} is not a three-letter ISO 4217 code",
                p.currency
            ));
        }
    }
    Ok(())
}

/// The RevKeen products a merchant starts with (ids from its seed).
pub fn default_products(seed: u64) -> Vec<Product> {
    let mut rng = rng_of(seed, &["products"]);
    PRODUCTS
        .iter()
        .map(|&(name, kind, amount_minor)| Product {
            id: format!("prod_{:08x}", rng.u32(..)),
            name: name.to_owned(),
            kind,
            amount_minor,
            currency: "GBP".to_owned(),
        })
        .collect()
}

/// A name for comparing: lower case, letters and digits, single spaces.
fn normalise(name: &str) -> String {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The best product for each item, by name similarity (Sørensen–Dice over letter pairs,
/// plus 0.1 when the charge type agrees), when it reaches [`MIN_CONFIDENCE`]. The same
/// items and products always give the same suggestions; ties go to the earlier product.
pub fn suggest(items: &[ExternalItem], products: &[Product]) -> Vec<Suggestion> {
    let names: Vec<String> = products.iter().map(|p| normalise(&p.name)).collect();
    items
        .iter()
        .filter_map(|item| {
            let name = normalise(&item.name);
            let (best, score, kind_agrees) = products
                .iter()
                .zip(&names)
                .map(|(p, n)| {
                    let agrees = item.charge_type == Some(p.kind);
                    let s = strsim::sorensen_dice(&name, n) + if agrees { 0.1 } else { 0.0 };
                    (p, s.min(1.0), agrees)
                })
                .fold(None, |best: Option<(&Product, f64, bool)>, c| match best {
                    Some(b) if b.1 >= c.1 => Some(b),
                    _ => Some(c),
                })?;
            let confidence = (score * 100.0).round() / 100.0;
            (confidence >= MIN_CONFIDENCE).then(|| Suggestion {
                external_id: item.id.clone(),
                internal_id: best.id.clone(),
                confidence,
                reasoning: format!(
                    "name \"{}\" is {:.0}% similar to product \"{}\"{}",
                    item.name,
                    strsim::sorensen_dice(&name, &normalise(&best.name)) * 100.0,
                    best.name,
                    if kind_agrees {
                        format!("; both are {}", best.kind)
                    } else {
                        String::new()
                    }
                ),
            })
        })
        .collect()
}

impl Setup {
    /// The catalog: the explicit one, else the one the credentials derive.
    pub fn catalog<'a>(
        &'a self,
        seed: u64,
        provider: Provider,
        credentials: &Credentials,
    ) -> Cow<'a, Catalog> {
        match &self.catalog {
            Some(c) => Cow::Borrowed(c),
            None => Cow::Owned(Catalog::derive(seed, provider, credentials)),
        }
    }

    /// Replaces every product mapping (after [`Catalog::check_product_mappings`]); the
    /// attempts of packages now mapped are resolved and go.
    pub fn replace_product_mappings(&mut self, mappings: Vec<ProductMapping>) {
        if !self.unmapped.is_empty() {
            let mapped: HashSet<&str> = mappings.iter().map(|m| m.external_id.as_str()).collect();
            self.unmapped
                .retain(|a| !mapped.contains(a.external_package_id.as_str()));
        }
        self.product_mappings = mappings;
    }

    /// Removes the mapping of `external_id`; `false` when there is none.
    pub fn delete_product_mapping(&mut self, external_id: &str) -> bool {
        let before = self.product_mappings.len();
        self.product_mappings
            .retain(|m| m.external_id != external_id);
        self.product_mappings.len() != before
    }

    /// A successful sync at `at` met every package on sale in the catalog: each
    /// unmapped one is recorded (count and last seen). Returns how many were unmapped.
    pub fn meet_packages(
        &mut self,
        seed: u64,
        provider: Provider,
        credentials: &Credentials,
        at: Timestamp,
    ) -> u16 {
        let derived;
        let catalog = match &self.catalog {
            Some(c) => &**c,
            None => {
                derived = Catalog::derive(seed, provider, credentials);
                &derived
            }
        };
        let mut unmapped = 0u16;
        for p in catalog.packages.iter().filter(|p| p.active) {
            if self.product_mappings.iter().any(|m| m.external_id == p.id) {
                continue;
            }
            unmapped = unmapped.saturating_add(1);
            match self
                .unmapped
                .iter_mut()
                .find(|a| a.external_package_id == p.id)
            {
                Some(a) => {
                    a.count = a.count.saturating_add(1);
                    a.last_seen_at = at;
                    a.external_package_name = Some(p.name.clone());
                }
                None => self.unmapped.push(UnmappedAttempt {
                    external_package_id: p.id.clone(),
                    external_package_name: Some(p.name.clone()),
                    count: 1,
                    last_seen_at: at,
                }),
            }
        }
        unmapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(key: &str) -> Credentials {
        Credentials {
            api_key: key.into(),
            base_url: "https://clinic.example".into(),
            app_name: None,
            app_email: None,
        }
    }

    #[test]
    fn a_catalog_depends_on_the_seed_provider_and_credentials_only() {
        let a = Catalog::derive(7, Provider::Practicehub, &creds("ph_a"));
        assert_eq!(a, Catalog::derive(7, Provider::Practicehub, &creds("ph_a")));
        assert_ne!(a, Catalog::derive(7, Provider::Practicehub, &creds("ph_b")));
        assert_ne!(a, Catalog::derive(8, Provider::Practicehub, &creds("ph_a")));
        assert!(a.packages.len() >= 3 && a.payment_methods.len() == 6);
        let ids: HashSet<&str> = a
            .packages
            .iter()
            .map(|p| p.id.as_str())
            .chain(a.billable_items.iter().map(|b| b.id.as_str()))
            .collect();
        assert_eq!(ids.len(), a.packages.len() + a.billable_items.len());
        let terminal = Catalog::derive(7, Provider::Terminal, &creds("t"));
        assert!(terminal.packages.is_empty() && terminal.billable_items.is_empty());
        assert_eq!(terminal.payment_methods.len(), 3);
    }

    #[test]
    fn product_mappings_must_name_catalog_items_once() {
        let c = Catalog::derive(7, Provider::Wodify, &creds("w"));
        let m = |id: &str| ProductMapping {
            external_id: id.into(),
            internal_id: "prod_x".into(),
            metadata: None,
        };
        let (p0, p1) = (c.packages[0].id.clone(), c.packages[1].id.clone());
        assert!(
            c.check_product_mappings(Provider::Wodify, &[m(&p0), m(&p1)])
                .is_ok()
        );
        assert!(matches!(
            c.check_product_mappings(Provider::Wodify, &[m(&p0), m("pkg_nope")]),
            Err(SimError::UnknownExternalId { index: 1, .. })
        ));
        assert!(matches!(
            c.check_product_mappings(Provider::Wodify, &[m(&p0), m(&p0)]),
            Err(SimError::DuplicateMapping { index: 1, .. })
        ));
    }

    #[test]
    fn suggestions_are_deterministic_and_pick_the_closest_name() {
        let products = default_products(3);
        let items = [
            ExternalItem {
                id: "a".into(),
                name: "Physio 10-Session Pack".into(),
                charge_type: Some(ChargeType::OneTime),
            },
            ExternalItem {
                id: "b".into(),
                name: "Zzzq".into(),
                charge_type: None,
            },
        ];
        let s = suggest(&items, &products);
        assert_eq!(s, suggest(&items, &products));
        assert_eq!(s.len(), 1, "{s:?}");
        let p = products.iter().find(|p| p.id == s[0].internal_id).unwrap();
        assert_eq!(p.name, "Physio Session Pack (10)");
        assert!(s[0].confidence >= MIN_CONFIDENCE && s[0].confidence <= 1.0);
        assert!(
            s[0].reasoning.contains("both are one_time"),
            "{}",
            s[0].reasoning
        );
    }

    #[test]
    fn mapping_a_package_stops_and_resolves_its_attempts() {
        let c = Catalog::derive(7, Provider::Wodify, &creds("w"));
        let mut s = Setup::default();
        let meet =
            |s: &mut Setup, t| s.meet_packages(7, Provider::Wodify, &creds("w"), Timestamp(t));
        let on_sale = c.packages.iter().filter(|p| p.active).count() as u16;
        assert_eq!(meet(&mut s, 1), on_sale);
        assert_eq!(meet(&mut s, 2), on_sale);
        assert!(
            s.unmapped
                .iter()
                .all(|a| a.count == 2 && a.last_seen_at == Timestamp(2))
        );
        let first = c.packages[0].id.clone();
        s.replace_product_mappings(vec![ProductMapping {
            external_id: first.clone(),
            internal_id: "prod_x".into(),
            metadata: None,
        }]);
        assert!(s.unmapped.iter().all(|a| a.external_package_id != first));
        assert_eq!(meet(&mut s, 3), on_sale - 1);
        assert!(s.delete_product_mapping(&first));
        assert!(!s.delete_product_mapping(&first));
    }
}
