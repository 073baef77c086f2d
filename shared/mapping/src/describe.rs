//! Checking declared objects against the real ones: a Salesforce describe
//! (`GET /services/data/vXX.X/sobjects/Account/describe`) or an Intacct object definition, when
//! one is at hand. Optional: the specs compile without them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::FieldType;
use crate::suggest::did_you_mean;

/// The fields one object really has, and their maximum lengths where limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDescribe {
    /// Object API name: `Account`, `CUSTOMER`.
    pub object: String,
    /// Field name → maximum length (`None`: not a limited text field).
    pub fields: BTreeMap<String, Option<usize>>,
}

impl ObjectDescribe {
    /// Reads a Salesforce describe (`{"name": "Account", "fields": [{"name": "Name",
    /// "length": 255}, ...]}`), or the same shape for an Intacct object (`object` may stand for
    /// `name`, `ID` for a field's `name`, `maxLength` for `length`). A length of 0 means
    /// unlimited.
    pub fn from_json(v: &Value) -> Option<ObjectDescribe> {
        let object = v
            .get("name")
            .or_else(|| v.get("object"))
            .and_then(Value::as_str)?
            .to_owned();
        let fields = v
            .get("fields")?
            .as_array()?
            .iter()
            .filter_map(|f| {
                let name = f.get("name").or_else(|| f.get("ID"))?.as_str()?.to_owned();
                let len = f
                    .get("length")
                    .or_else(|| f.get("maxLength"))
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| *n > 0);
                Some((name, len))
            })
            .collect();
        Some(ObjectDescribe { object, fields })
    }

    /// Checks one declared field. Relationships (`ref`, `list`, `children`) are not fields of
    /// the describe and are not checked.
    pub(crate) fn check(&self, field: &str, ty: &FieldType) -> Result<(), String> {
        if !ty.is_scalar() {
            return Ok(());
        }
        match self.fields.get(field) {
            None => {
                let mut m = format!("{} has no field `{field}` in its describe", self.object);
                if let Some(s) = did_you_mean(field, self.fields.keys().map(String::as_str)) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                Err(m)
            }
            Some(Some(real)) => match ty {
                FieldType::String {
                    max: Some(declared),
                } if declared > real => Err(format!(
                    "declared as string({declared}), but {}.{field} holds at most {real} characters",
                    self.object
                )),
                _ => Ok(()),
            },
            Some(None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_describes_and_checks_fields() {
        let d = ObjectDescribe::from_json(&json!({"name": "Account", "fields": [
            {"name": "Name", "type": "string", "length": 255},
            {"name": "AnnualRevenue", "type": "currency", "length": 0}]}))
        .unwrap();
        assert_eq!(
            d.check("Name", &FieldType::String { max: Some(80) }),
            Ok(())
        );
        assert!(
            d.check("Name", &FieldType::String { max: Some(300) })
                .unwrap_err()
                .contains("at most 255")
        );
        assert_eq!(d.check("AnnualRevenue", &FieldType::Decimal), Ok(()));
        assert!(
            d.check("AnualRevenue", &FieldType::Decimal)
                .unwrap_err()
                .contains("did you mean `AnnualRevenue`")
        );
        assert_eq!(d.check("Owner", &FieldType::Ref("User".into())), Ok(()));
        let i = ObjectDescribe::from_json(
            &json!({"object": "CUSTOMER", "fields": [{"ID": "CUSTOMERID", "maxLength": 20}]}),
        )
        .unwrap();
        assert_eq!(i.fields.get("CUSTOMERID"), Some(&Some(20)));
        assert_eq!(ObjectDescribe::from_json(&json!({"fields": []})), None);
    }
}
