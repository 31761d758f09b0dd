//! The one spelling of an instance's [`Status`]: the command line (`list
//! --status`), JSON output, the store's `status` column and snapshots all use
//! [`Status::as_str`], through `Display`, `FromStr` and serde.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Status;

impl Status {
    /// Every status, in the order `list --status` offers them.
    pub const ALL: &'static [Status] = &[
        Status::Running,
        Status::Waiting,
        Status::Halted,
        Status::Completed,
        Status::Error,
    ];

    /// The status's name, e.g. `waiting`.
    ///
    /// ```
    /// use wasmflow::engine::Status;
    /// assert_eq!(Status::Halted.as_str(), "halted");
    /// assert_eq!("halted".parse::<Status>(), Ok(Status::Halted));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Completed => "completed",
            Status::Error => "error",
            Status::Halted => "halted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`: write running, waiting, halted, completed or error")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| UnknownStatus(name.to_string()))
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name_in_text_and_json() {
        for &status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
            assert_eq!(serde_json::from_value::<Status>(json).unwrap(), status);
        }
        assert_eq!(Status::ALL.len(), 5, "a new status must be added to ALL");
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_names_that_exist() {
        let error = "done".parse::<Status>().unwrap_err();
        assert!(error.to_string().contains("waiting"), "{error}");
        assert!(serde_json::from_value::<Status>(serde_json::json!("Waiting")).is_err());
    }
}
