//! Task data: how branches' data are merged, and what counts as true.

use serde_json::{Map, Value};

/// Merges `from` into `into`: objects are merged key by key, all else replaced.
///
/// Used where branches meet (joins, the ends of a scope) and where a
/// subprocess or call hands its data back, always in a defined order so the
/// same run gives the same data. Recursion follows the JSON nesting, which
/// the JSON parser bounds.
pub fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Python's truthiness for a JSON value: `null`, `false`, zero, and empty
/// strings, lists and objects are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_for_objects_and_replaces_the_rest() {
        let mut into = json!({"a": 1, "o": {"x": 1, "y": 2}, "l": [1]})
            .as_object()
            .unwrap()
            .clone();
        merge(
            &mut into,
            json!({"b": 2, "o": {"y": 3}, "l": [2]}).as_object().unwrap().clone(),
        );
        assert_eq!(
            Value::Object(into),
            json!({"a": 1, "b": 2, "o": {"x": 1, "y": 3}, "l": [2]})
        );
    }

    #[test]
    fn truthiness_follows_python() {
        for value in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&value), "{value}");
        }
        for value in [
            json!(true),
            json!(-1),
            json!(0.5),
            json!("no"),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&value), "{value}");
        }
    }
}
