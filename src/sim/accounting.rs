//! Invoice payment requests of the accounting integration
//! (`/integrations/accounting/invoice-payment-requests`): a merchant asks for an invoice
//! to be paid; the request is kept and can be read back by id. The sources describe no
//! more than that (no status changes), so the mock keeps them `pending`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::time::Timestamp;

/// Requests kept per merchant; the oldest go first (a shared sandbox must not grow
/// without bound).
pub const KEPT: usize = 1000;

/// What a client sends to create a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequestInput {
    /// The invoice to be paid.
    pub invoice_id: String,
    /// The amount, in minor units.
    pub amount_minor: u64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Shown to the payer.
    pub description: Option<String>,
    /// Where the request goes.
    pub customer_email: Option<String>,
}

/// A kept request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// Its id.
    pub id: Uuid,
    /// What was asked.
    pub input: PaymentRequestInput,
    /// When.
    pub created_at: Timestamp,
}

/// A merchant's requests, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequests(VecDeque<PaymentRequest>);

impl PaymentRequests {
    /// Keeps `request`, dropping the oldest past [`KEPT`].
    pub fn push(&mut self, request: PaymentRequest) {
        if self.0.len() == KEPT {
            self.0.pop_front();
        }
        self.0.push_back(request);
    }

    /// The request `id`, if kept.
    pub fn get(&self, id: Uuid) -> Option<&PaymentRequest> {
        self.0.iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_requests_go_past_the_bound() {
        let mut r = PaymentRequests::default();
        let input = PaymentRequestInput {
            invoice_id: "inv_1".into(),
            amount_minor: 100,
            currency: "GBP".into(),
            description: None,
            customer_email: None,
        };
        for k in 0..=KEPT as u128 {
            r.push(PaymentRequest {
                id: Uuid::from_u128(k),
                input: input.clone(),
                created_at: Timestamp(0),
            });
        }
        assert!(r.get(Uuid::from_u128(0)).is_none());
        assert!(r.get(Uuid::from_u128(KEPT as u128)).is_some());
    }
}
