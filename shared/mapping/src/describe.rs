//! Checking declared objects against the real ones: a Salesforce describe
//! (`GET /services/data/vXX.X/sobjects/Account/describe`) or an Intacct object definition, when
//! one is at hand. Optional: the specs compile without them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::FieldType;
use crate::suggest::did_you_mean;

/// The fields one object really has, their maximum lengths where limited, and their types
/// where the describe names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDescribe {
    /// Object API name: `Account`, `CUSTOMER`.
    pub object: String,
    /// Field name → maximum length (`None`: not a limited text field).
    pub fields: BTreeMap<String, Option<usize>>,
    /// Field name → its type as the system names it: a Salesforce describe's `type`
    /// (`string`, `currency`, `reference`…) or an Intacct `lookup`'s `DATATYPE` (`TEXT`,
    /// `DECIMAL`, `TIMESTAMP`…). A field without an entry is not type-checked.
    pub types: BTreeMap<String, String>,
}

/// What kind of value a live field holds, from its system's type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiveKind {
    Text,
    Bool,
    Int,
    Number,
    Date,
    DateTime,
}

/// The kind of a Salesforce describe `type` or an Intacct `DATATYPE`; `None` for one whose
/// values are not plain (address, location, base64, a nested OBJECT) or that is not known:
/// those are not type-checked.
fn live_kind(system_type: &str) -> Option<LiveKind> {
    Some(match system_type.to_ascii_lowercase().as_str() {
        "string" | "textarea" | "picklist" | "multipicklist" | "combobox" | "email" | "phone"
        | "url" | "encryptedstring" | "id" | "reference" | "text" | "enum" | "time" => {
            LiveKind::Text
        }
        "boolean" => LiveKind::Bool,
        "int" | "integer" | "long" | "sequence" => LiveKind::Int,
        "double" | "currency" | "percent" | "decimal" => LiveKind::Number,
        "date" => LiveKind::Date,
        "datetime" | "timestamp" => LiveKind::DateTime,
        _ => return None,
    })
}

/// Whether values of the declared type fit a live field of `kind`.
fn fits(declared: &FieldType, kind: LiveKind) -> bool {
    match declared {
        FieldType::String { .. } | FieldType::Id => kind == LiveKind::Text,
        FieldType::Bool => kind == LiveKind::Bool,
        // A whole number fits a number field; a decimal loses its fraction in an integer one.
        FieldType::Int => matches!(kind, LiveKind::Int | LiveKind::Number),
        FieldType::Decimal => kind == LiveKind::Number,
        FieldType::Date => kind == LiveKind::Date,
        FieldType::DateTime => kind == LiveKind::DateTime,
        FieldType::Any | FieldType::Ref(_) | FieldType::List(_) | FieldType::Children(_) => true,
    }
}

impl ObjectDescribe {
    /// Reads a Salesforce describe (`{"name": "Account", "fields": [{"name": "Name",
    /// "type": "string", "length": 255}, ...]}`), or the same shape for an Intacct object
    /// (`object` may stand for `name`, `ID` for a field's `name`, `maxLength` for `length`,
    /// `DATATYPE` for `type`). A length of 0 means unlimited.
    pub fn from_json(v: &Value) -> Option<ObjectDescribe> {
        let object = v
            .get("name")
            .or_else(|| v.get("object"))
            .and_then(Value::as_str)?
            .to_owned();
        let mut fields = BTreeMap::new();
        let mut types = BTreeMap::new();
        for f in v.get("fields")?.as_array()? {
            let Some(name) = f
                .get("name")
                .or_else(|| f.get("ID"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let len = f
                .get("length")
                .or_else(|| f.get("maxLength"))
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0);
            fields.insert(name.to_owned(), len);
            if let Some(ty) = f
                .get("type")
                .or_else(|| f.get("DATATYPE"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                types.insert(name.to_owned(), ty.to_owned());
            }
        }
        Some(ObjectDescribe {
            object,
            fields,
            types,
        })
    }

    /// A field as the system has it: `string(255)`, `currency`, `TEXT`; `None` when the
    /// describe lacks it.
    pub fn live_field(&self, field: &str) -> Option<String> {
        let length = self.fields.get(field)?;
        let ty = self.types.get(field).map_or("?", String::as_str);
        Some(match length {
            Some(n) => format!("{ty}({n})"),
            None => ty.to_owned(),
        })
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
            Some(length) => {
                if let Some(live) = self.types.get(field)
                    && let Some(kind) = live_kind(live)
                    && !fits(ty, kind)
                {
                    return Err(format!(
                        "declared as {ty}, but {}.{field} is a {live} field",
                        self.object
                    ));
                }
                match (ty, length) {
                    (
                        FieldType::String {
                            max: Some(declared),
                        },
                        Some(real),
                    ) if declared > real => Err(format!(
                        "declared as string({declared}), but {}.{field} holds at most {real} characters",
                        self.object
                    )),
                    _ => Ok(()),
                }
            }
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

    #[test]
    fn a_declared_type_the_live_field_cannot_hold_is_named_with_both_types() {
        let d = ObjectDescribe::from_json(&json!({"name": "Account", "fields": [
            {"name": "Name", "type": "string", "length": 255},
            {"name": "Balance__c", "type": "currency", "length": 0},
            {"name": "Employees", "type": "int", "length": 0},
            {"name": "Region__c", "type": "picklist", "length": 255},
            {"name": "Since__c", "type": "date", "length": 0},
            {"name": "Billing", "type": "address", "length": 0}]}))
        .unwrap();
        assert_eq!(d.live_field("Name").as_deref(), Some("string(255)"));
        assert_eq!(d.live_field("Balance__c").as_deref(), Some("currency"));
        assert_eq!(d.live_field("Nope"), None);
        let err = d.check("Balance__c", &FieldType::Date).unwrap_err();
        assert_eq!(
            err,
            "declared as date, but Account.Balance__c is a currency field"
        );
        assert!(d.check("Balance__c", &FieldType::Decimal).is_ok());
        // A whole number fits a number field; a fraction does not fit an integer one.
        assert!(d.check("Balance__c", &FieldType::Int).is_ok());
        assert!(d.check("Employees", &FieldType::Decimal).is_err());
        assert!(
            d.check("Region__c", &FieldType::String { max: Some(40) })
                .is_ok()
        );
        assert!(d.check("Name", &FieldType::Bool).is_err());
        assert!(d.check("Since__c", &FieldType::DateTime).is_err());
        // Compound and unknown types are not checked; `any` fits everything.
        assert!(d.check("Billing", &FieldType::String { max: None }).is_ok());
        assert!(d.check("Name", &FieldType::Any).is_ok());

        let i = ObjectDescribe::from_json(&json!({"object": "CUSTOMER", "fields": [
            {"ID": "CREDITLIMIT", "DATATYPE": "DECIMAL"},
            {"ID": "WHENMODIFIED", "DATATYPE": "TIMESTAMP"}]}))
        .unwrap();
        assert!(i.check("CREDITLIMIT", &FieldType::Decimal).is_ok());
        assert!(i.check("WHENMODIFIED", &FieldType::DateTime).is_ok());
        assert_eq!(
            i.check("CREDITLIMIT", &FieldType::String { max: None })
                .unwrap_err(),
            "declared as string, but CUSTOMER.CREDITLIMIT is a DECIMAL field"
        );
    }
}
