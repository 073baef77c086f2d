//! The faults the gateway can inject, drawn per request from a [`lf_sandbox_core::FaultPlan`].

use std::fmt;
use std::str::FromStr;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntacctFault {
    /// The request is answered normally after an extra delay
    /// ([`crate::SandboxConfig::latency`]).
    Latency,
    /// HTTP 503 with no XML body; nothing runs.
    ServerError,
    /// HTTP 429 with `GW-0010`, as when the concurrency limit is exceeded; nothing runs.
    RateLimited,
    /// The request's session has expired: it is removed and the request fails authentication
    /// with `XL03000006` (requests that log in with a user and password are not affected and
    /// leave the fault for the next request).
    SessionExpired,
    /// The request runs and commits, then the connection is cut before the response body is
    /// sent: the client cannot tell whether the write happened.
    LostResponse,
}

impl IntacctFault {
    /// Every fault, with the name `--faults` uses.
    pub const ALL: [IntacctFault; 5] = [
        IntacctFault::Latency,
        IntacctFault::ServerError,
        IntacctFault::RateLimited,
        IntacctFault::SessionExpired,
        IntacctFault::LostResponse,
    ];

    /// The `--faults` name: `latency`, `5xx`, `429`, `session`, `lost`.
    pub fn name(self) -> &'static str {
        match self {
            IntacctFault::Latency => "latency",
            IntacctFault::ServerError => "5xx",
            IntacctFault::RateLimited => "429",
            IntacctFault::SessionExpired => "session",
            IntacctFault::LostResponse => "lost",
        }
    }
}

impl fmt::Display for IntacctFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--faults` name that is not one of [`IntacctFault::name`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Intacct fault {0:?}; known: latency, 5xx, 429, session, lost")]
pub struct UnknownFault(pub String);

impl FromStr for IntacctFault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let alias = match s.as_str() {
            "503" | "500" | "server" | "servererror" => "5xx",
            "gw-0010" | "ratelimit" | "ratelimited" | "throttle" => "429",
            "expired" | "sessionexpired" | "expired-session" => "session",
            "lost-response" | "lostresponse" => "lost",
            "slow" => "latency",
            other => other,
        };
        IntacctFault::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or(UnknownFault(s))
    }
}

/// Reads a `--faults` value (`latency=0.1,5xx=0.05`) into fault rates.
pub fn parse_faults(spec: &str) -> Result<Vec<(IntacctFault, f64)>, FaultsError> {
    lf_sandbox_core::parse_fault_rates(spec)?
        .into_iter()
        .map(|(name, p)| Ok((name.parse::<IntacctFault>()?, p)))
        .collect()
}

/// A `--faults` value that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error(transparent)]
    Spec(#[from] lf_sandbox_core::FaultSpecError),
    #[error(transparent)]
    Unknown(#[from] UnknownFault),
}

impl lf_domain::Classify for FaultsError {
    fn class(&self) -> lf_domain::ErrorClass {
        lf_domain::ErrorClass::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for f in IntacctFault::ALL {
            assert_eq!(f.name().parse::<IntacctFault>().unwrap(), f);
        }
        assert_eq!(
            "503".parse::<IntacctFault>().unwrap(),
            IntacctFault::ServerError
        );
        assert!("teapot".parse::<IntacctFault>().is_err());
        assert_eq!(
            parse_faults("latency=0.5, 429=0.1").unwrap(),
            vec![
                (IntacctFault::Latency, 0.5),
                (IntacctFault::RateLimited, 0.1)
            ]
        );
        assert!(matches!(
            parse_faults("nope=0.1"),
            Err(FaultsError::Unknown(_))
        ));
        assert!(matches!(parse_faults("lost=7"), Err(FaultsError::Spec(_))));
    }
}
