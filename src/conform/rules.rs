//! Every rule the runner checks, with its source: the spec it was given, a documented
//! behaviour (a sentence of RevKeen's docs, `shared/reference/api-facts.md`), or a
//! choice of the mock (what the docs leave open). Only the first two fail a run; a rule
//! that rests on a choice of the mock is reported as *differs from the mock* (with the
//! exchange that shows it) and fails only under `--exact`, which the mock's own CI
//! uses. `docs/conformance.md` lists the table; a test keeps the two equal.

use super::checks;

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The spec the run was given: schemas, documented statuses and headers,
    /// `x-outcomes`, parameter descriptions.
    Spec,
    /// A behaviour RevKeen's docs state (the sentence, or where it is).
    Docs(&'static str),
    /// A choice of the mock where the docs are silent (what it chose).
    Mock(&'static str),
}

impl Source {
    /// `spec`, `docs` or `mock`, as the reports name it.
    pub fn kind(self) -> &'static str {
        match self {
            Source::Spec => "spec",
            Source::Docs(_) => "docs",
            Source::Mock(_) => "mock",
        }
    }

    /// Whether a violation fails the run (always, for spec and docs rules; under
    /// `--exact` for the mock's choices too).
    pub fn fails(self, exact: bool) -> bool {
        exact || !matches!(self, Source::Mock(_))
    }
}

/// One rule.
#[derive(Debug)]
pub struct Rule {
    /// Its id, as reports and `docs/conformance.md` name it.
    pub id: &'static str,
    /// The check that reports it.
    pub check: &'static str,
    /// Where it comes from.
    pub source: Source,
    /// What bug it catches.
    pub catches: &'static str,
}

macro_rules! rules {
    ($( $name:ident = $id:literal, $check:expr, $source:expr, $catches:literal; )*) => {
        $(
            #[doc = $catches]
            pub const $name: Rule = Rule { id: $id, check: $check, source: $source, catches: $catches };
        )*
        /// Every rule, in the order `docs/conformance.md` lists them.
        pub const ALL: &[&Rule] = &[$(&$name),*];
    };
}

rules! {
    // The reference model (stateful sequences).
    MODEL_STATUS = "model.status", checks::STATEFUL, Source::Spec,
        "an answer whose status is not one the spec documents for the outcome the model predicts (x-outcomes, else the docs' status table)";
    MODEL_ACTIVE = "model.active", checks::STATEFUL, Source::Docs("activate sets isActive; deactivate ends it (integrations_activate, integrations_deactivate)"),
        "isActive that does not follow activate and deactivate";
    MODEL_SYNC_ENABLED = "model.sync_enabled", checks::STATEFUL, Source::Docs("sync-toggle turns automatic sync on or off (integrations_sync_toggle)"),
        "syncEnabled that does not follow sync-toggle";
    MODEL_INTERVAL = "model.interval", checks::STATEFUL, Source::Docs("intervalMs is the interval in milliseconds; sync-interval sets it in minutes"),
        "syncInterval.intervalMs that is not the minutes last set times 60,000";
    MODEL_LIST = "model.list", checks::STATEFUL, Source::Docs("GET /integrations lists the merchant's integrations"),
        "a list that misses an integration or shows one never activated";
    MODEL_PAGINATION = "model.pagination", checks::STATEFUL, Source::Docs("the pagination guide: limit echoed after clamping, offset, total, hasMore = offset + data.length < total"),
        "a page block that does not add up";
    MODEL_ISOLATION = "model.isolation", checks::STATEFUL, Source::Docs("one merchant per API key (authentication pages)"),
        "one key's writes showing up under another key";
    MODEL_REPEATABLE_JOB = "model.repeatable_job", checks::STATEFUL, Source::Mock("an active integration always has syncInterval.hasRepeatableJob: true, even with automatic sync off (an inference, api-facts §activate)"),
        "an active integration without its repeatable job";
    MODEL_COUNTER_AFTER_RESUME = "model.counter_after_resume", checks::STATEFUL, Source::Docs("resume-sync resets the circuit breaker's consecutive-error counter (integrations_resume_sync); the run's credentials never fail"),
        "a counter that resume-sync does not reset, or that counts failures of a healthy provider";
    MODEL_COUNTER_ON_ACTIVATION = "model.counter_on_activation", checks::STATEFUL, Source::Mock("an activation starts the breaker's counter at 0 and healthy credentials keep it there (the docs give no initial value)"),
        "a counter carried over from before a deactivation, or counting failures of a healthy provider";
    // Scenarios.
    SCENARIO_OUTCOME = "scenario.outcome", checks::SCENARIOS, Source::Spec,
        "a documented journey's step answered with a status outside the outcome the scenario names, as the spec documents it";
    SCENARIO_VALUE = "scenario.value", checks::SCENARIOS, Source::Docs("the values a scenario's `expect` names (each file says which sentence)"),
        "a value the docs fix that the answer does not hold";
    SCENARIO_MOCK_VALUE = "scenario.mock_value", checks::SCENARIOS, Source::Mock("the values a scenario's `mock_expect` names: the mock's choices where the docs are silent"),
        "a value the mock chose that the answer does not hold";
    // The circuit breaker.
    BREAKER_COUNTS = "breaker.counts_failures", checks::BREAKER, Source::Docs("providerState.consecutiveErrors is the circuit-breaker counter; a failed sync raises it"),
        "a failed sync that is not counted";
    BREAKER_AUTO_PAUSE = "breaker.auto_pause", checks::BREAKER, Source::Docs("a provider that keeps failing trips the breaker, which auto-pauses syncing"),
        "a breaker that never opens at the threshold the target declares";
    BREAKER_RESUME_RESETS = "breaker.resume_resets", checks::BREAKER, Source::Docs("resume-sync resets the circuit breaker (consecutive-error counter) and enqueues a sync (integrations_resume_sync)"),
        "resume-sync that leaves the counter or the pause";
    BREAKER_MANUAL_SYNC = "breaker.manual_sync", checks::BREAKER, Source::Spec,
        "a manual sync refused, or answered, with a status the spec does not document for the state the integration is in";
    BREAKER_STARTS_AT_ZERO = "breaker.starts_at_zero", checks::BREAKER, Source::Mock("a just-activated integration shows consecutiveErrors 0 (the docs give no initial value, nor say whether deactivation keeps the counter)"),
        "a counter carried over from an earlier activation";
    BREAKER_HEALTH = "breaker.health", checks::BREAKER, Source::Mock("syncHealth is degraded below the threshold and paused at it, and healthy again after a successful trial (the docs connect syncHealth to no counter)"),
        "syncHealth that does not follow the counter";
    BREAKER_TRIAL = "breaker.trial", checks::BREAKER, Source::Mock("resume-sync's sync is a trial: a success closes the breaker"),
        "a breaker that never closes after the provider recovers";
    // Sync history.
    HISTORY_ENTRY = "history.entry", checks::HISTORY, Source::Docs("every sync run is logged (integrations_sync_logs); a manual sync's entry has jobType manual and names its job"),
        "a sync that leaves no log entry, or one that names another job";
    HISTORY_ONE_ENTRY = "history.one_entry", checks::HISTORY, Source::Docs("GET .../sync-logs/{logId} answers the entry the list shows"),
        "an entry read alone that differs from the list";
    HISTORY_LATEST_ONLY = "history.latest_only", checks::HISTORY, Source::Spec,
        "latestOnly=true listing a resource type more than once (the parameter's description)";
    HISTORY_PER_RESOURCE = "history.per_resource", checks::HISTORY, Source::Mock("one run logs each resource type once, and the staged failing provider's first run fails"),
        "a run that logs a resource type twice";
    HISTORY_RETRY = "history.retry", checks::HISTORY, Source::Docs("retry re-runs a failed entry; an unknown entry is 404"),
        "a retry of a failed entry that is refused, or an unknown entry that is not 404";
    HISTORY_RETRY_ONCE = "history.retry_once", checks::HISTORY, Source::Docs("retry is 400 when the entry failed permanently, already succeeded, or its target was deleted (integrations_retry_log)"),
        "the same records retried twice";
    HISTORY_STATS = "history.stats", checks::HISTORY, Source::Docs("the statistics count the log's entries"),
        "statistics that disagree with the log";
    // Product mappings.
    MAPPINGS_KEPT = "mappings.kept", checks::MAPPINGS, Source::Docs("PUT .../product-mappings replaces the mappings, which GET lists and DELETE removes"),
        "mappings that are not what was last put, or a second DELETE that is not 404";
    MAPPINGS_CATALOG = "mappings.catalog", checks::MAPPINGS, Source::Mock("a mapping naming a package the catalog does not list is refused with 400"),
        "mappings accepted for packages that do not exist";
    // Inputs, authentication, idempotency.
    AUTH_401 = "authentication.401", checks::AUTHENTICATION, Source::Docs("a missing, malformed, revoked or wrong-environment key is 401 (getting-started/authentication)"),
        "a request without a valid key that is served";
    INPUT_REFUSED = "inputs.refused", "negative_inputs", Source::Spec,
        "input the spec's schema refuses, accepted";
    INPUT_ACCEPTED = "inputs.accepted", "valid_inputs", Source::Spec,
        "input the spec's schema accepts, refused";
    IDEMPOTENT_REPLAY = "idempotency.replay", checks::IDEMPOTENCY, Source::Docs("the same key and body return the stored response with Idempotency-Replayed: true; another body is 409 (fundamentals/idempotency)"),
        "a replay that mutates again, or a reused key with another body that is not 409";
    // Any check's steps.
    STEP_STATUS = "check.step_status", "(every check)", Source::Spec,
        "a step a check needs (activate, read, sync, ...) answered with a status the spec does not document as its success";
    // Every answer.
    ANSWER_CONTRACT = "answer.contract", "status_documented", Source::Spec,
        "an answer outside the spec: undocumented status, wrong content type, a body its schema refuses, a documented header missing, a 5xx, a dropped connection, an answer over the time-out or the size cap";
    NO_SECRET_ECHO = "answer.no_secret_echo", checks::NO_SECRET_ECHO, Source::Docs("credentials are stored encrypted and shown by no response schema (integrations_activate)"),
        "a credential the run sent, echoed in an answer";
}

/// The rule whose id is `id`.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_rule_is_in_the_docs_table() {
        let table = include_str!("../../docs/conformance.md");
        let mut seen = std::collections::BTreeSet::new();
        for rule in ALL {
            assert!(seen.insert(rule.id), "{} twice", rule.id);
            let row = format!("| `{}` |", rule.id);
            let line = table
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("docs/conformance.md has no row for {}", rule.id));
            assert!(
                line.contains(&format!("| {} |", rule.source.kind())),
                "{}: the table names another source: {line}",
                rule.id
            );
        }
    }
}
