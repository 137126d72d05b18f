//! Enums whose values travel on the wire as fixed strings (`practicehub`, `failed`,
//! `single_retry`): one declaration gives the enum, its serde names, `ALL`, `as_str`,
//! `FromStr` (with an error that lists the values) and `Display`, so the names are
//! written once.

/// Declares a wire enum. `$what` names the value in `FromStr`'s error.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The value on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!(
                            "unknown {} '{s}' (expected {})",
                            $what,
                            $crate::sim::wire::one_of(&names)
                        )
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;

/// `a, b or c`.
pub fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{IntegrationStatus, JobType, Provider};

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(JobType::SingleRetry.as_str(), "single_retry");
        assert_eq!(
            "nope".parse::<Provider>(),
            Err("unknown provider 'nope' (expected practicehub, wodify or terminal)".to_owned())
        );
        assert_eq!(
            serde_json::from_str::<IntegrationStatus>("\"syncing\"").unwrap(),
            IntegrationStatus::Syncing
        );
    }
}
