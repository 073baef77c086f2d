//! Which records an emulator starts with.

use std::str::FromStr;

/// The seeded data set. Each emulator documents what its `Demo` contains; both are
/// deterministic (the same records, with the same ids, on every run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataSet {
    /// Only the structure the system cannot work without (users, price book; entities,
    /// currencies, GL accounts).
    #[default]
    Empty,
    /// Realistic records across regions and currencies for demos and tests.
    Demo,
}

impl FromStr for DataSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "empty" => Ok(DataSet::Empty),
            "demo" => Ok(DataSet::Demo),
            other => Err(format!("unknown data set {other:?}; use empty or demo")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_case() {
        assert_eq!(" Demo ".parse::<DataSet>(), Ok(DataSet::Demo));
        assert_eq!("empty".parse::<DataSet>(), Ok(DataSet::Empty));
        assert!(
            "full"
                .parse::<DataSet>()
                .unwrap_err()
                .contains("empty or demo")
        );
    }
}
