//! The accounting integration's invoice payment requests (snake_case, as RevKeen's PHP
//! SDK shows): create one (an `Idempotency-Key` is required, which the contract
//! checks) and read it back by id.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Call, write};
use crate::api::ApiError;
use crate::api::render::Rfc3339;
use crate::sim::{PaymentRequest, PaymentRequestInput};
use crate::spec::Violation;

/// The accounting operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `createInvoicePaymentRequest`.
    Create,
    /// `getInvoicePaymentRequest`.
    Get,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "createInvoicePaymentRequest" => Op::Create,
            "getInvoicePaymentRequest" => Op::Get,
            _ => return None,
        })
    }
}

/// An `InvoicePaymentRequest`.
#[derive(Serialize)]
struct RequestView<'a> {
    id: Uuid,
    object: &'static str,
    invoice_id: &'a str,
    amount_minor: u64,
    currency: &'a str,
    status: &'static str,
    description: Option<&'a str>,
    customer_email: Option<&'a str>,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

#[derive(Serialize)]
struct Answer<'a> {
    data: RequestView<'a>,
}

fn view(r: &PaymentRequest) -> Answer<'_> {
    Answer {
        data: RequestView {
            id: r.id,
            object: "accounting_invoice_payment_request",
            invoice_id: &r.input.invoice_id,
            amount_minor: r.input.amount_minor,
            currency: &r.input.currency,
            status: "pending",
            description: r.input.description.as_deref(),
            customer_email: r.input.customer_email.as_deref(),
            created_at: Rfc3339(r.created_at),
            updated_at: Rfc3339(r.created_at),
        },
    }
}

#[derive(Deserialize)]
struct CreateBody {
    invoice_id: String,
    amount_minor: u64,
    currency: String,
    description: Option<String>,
    customer_email: Option<String>,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    match op {
        Op::Create => {
            let b: CreateBody = call.body()?;
            let input = PaymentRequestInput {
                invoice_id: b.invoice_id,
                amount_minor: b.amount_minor,
                currency: b.currency,
                description: b.description,
                customer_email: b.customer_email,
            };
            let now = call.now;
            let created = call
                .store
                .with_tenant(call.tenant, |t| {
                    t.merchant.create_payment_request(now, input.clone())
                })
                .await?;
            write(&view(&created))
        }
        Op::Get => {
            let text = call.params.get("id").and_then(Value::as_str).unwrap_or("");
            let not_found = || {
                ApiError::unknown_path_param(vec![Violation {
                    field: "id".into(),
                    message: format!("no invoice payment request {text} for this merchant"),
                }])
            };
            let id = Uuid::parse_str(text).map_err(|_| not_found())?;
            call.read(|v| v.payment_request(id).map(|r| write(&view(r))))
                .await?
                .ok_or_else(not_found)?
        }
    }
}
