//! Object declarations compiled: the fields of each Salesforce / Intacct object and their types.
//! Paths, transforms and expressions are checked against them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::spec::SystemName;
use crate::suggest::did_you_mean;

/// The type of a declared field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// Text, with the longest length the target accepts when known.
    String {
        max: Option<usize>,
    },
    Id,
    Bool,
    Int,
    Decimal,
    Date,
    DateTime,
    Any,
    /// A nested record or element of another declared object.
    Ref(Arc<str>),
    /// Repeated elements of a declared object.
    List(Arc<str>),
    /// A Salesforce child relationship: `{totalSize, done, records: [...]}`.
    Children(Arc<str>),
}

impl FieldType {
    /// Parses `string`, `string(80)`, `ref(Account)`...
    pub(crate) fn parse(text: &str) -> Result<FieldType, String> {
        let t = text.trim();
        let (name, arg) = match t.split_once('(') {
            Some((n, rest)) => match rest.strip_suffix(')') {
                Some(a) => (n.trim(), Some(a.trim())),
                None => return Err(format!("type `{t}` is missing its closing `)`")),
            },
            None => (t, None),
        };
        let object = |a: Option<&str>| -> Result<Arc<str>, String> {
            match a {
                Some(o) if !o.is_empty() => Ok(Arc::from(o)),
                _ => Err(format!(
                    "type `{name}` needs an object name, e.g. `{name}(Account)`"
                )),
            }
        };
        let no_arg = |ty: FieldType| -> Result<FieldType, String> {
            match arg {
                None => Ok(ty),
                Some(_) => Err(format!("type `{name}` takes no argument")),
            }
        };
        match name {
            "string" => match arg {
                None => Ok(FieldType::String { max: None }),
                Some(n) => n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| FieldType::String { max: Some(n) })
                    .ok_or_else(|| format!("`string({n})`: the length must be a positive number")),
            },
            "id" => no_arg(FieldType::Id),
            "bool" => no_arg(FieldType::Bool),
            "int" => no_arg(FieldType::Int),
            "decimal" => no_arg(FieldType::Decimal),
            "date" => no_arg(FieldType::Date),
            "datetime" => no_arg(FieldType::DateTime),
            "any" => no_arg(FieldType::Any),
            "ref" => object(arg).map(FieldType::Ref),
            "list" => object(arg).map(FieldType::List),
            "children" => object(arg).map(FieldType::Children),
            other => {
                let names = [
                    "string", "id", "bool", "int", "decimal", "date", "datetime", "any", "ref",
                    "list", "children",
                ];
                let mut m = format!("unknown type `{other}`");
                match did_you_mean(other, names) {
                    Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                    None => m.push_str(&format!("; types: {}", names.join(", "))),
                }
                Err(m)
            }
        }
    }

    /// The object this type refers to, if any.
    pub(crate) fn object(&self) -> Option<&str> {
        match self {
            FieldType::Ref(o) | FieldType::List(o) | FieldType::Children(o) => Some(o),
            _ => None,
        }
    }

    pub(crate) fn is_scalar(&self) -> bool {
        !matches!(
            self,
            FieldType::Ref(_) | FieldType::List(_) | FieldType::Children(_)
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::String { max: None } => f.write_str("string"),
            FieldType::String { max: Some(n) } => write!(f, "string({n})"),
            FieldType::Id => f.write_str("id"),
            FieldType::Bool => f.write_str("bool"),
            FieldType::Int => f.write_str("int"),
            FieldType::Decimal => f.write_str("decimal"),
            FieldType::Date => f.write_str("date"),
            FieldType::DateTime => f.write_str("datetime"),
            FieldType::Any => f.write_str("any"),
            FieldType::Ref(o) => write!(f, "ref({o})"),
            FieldType::List(o) => write!(f, "list({o})"),
            FieldType::Children(o) => write!(f, "children({o})"),
        }
    }
}

/// One declared object.
#[derive(Debug)]
pub(crate) struct ObjectDef {
    pub name: Arc<str>,
    pub system: SystemName,
    pub fields: BTreeMap<String, FieldType>,
}

/// The objects visible to one flow file (its own and its includes').
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    objects: BTreeMap<String, Arc<ObjectDef>>,
}

/// How deep nested `ref`s are expanded when building a sample shape (cycles such as
/// Account.Parent → Account stop here).
const SHAPE_DEPTH: usize = 4;

impl Catalog {
    pub(crate) fn insert(&mut self, def: Arc<ObjectDef>) {
        self.objects.insert(def.name.to_string(), def);
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<ObjectDef>> {
        self.objects.get(name)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.objects.keys().map(String::as_str)
    }

    /// "unknown object `X`" with a suggestion.
    pub(crate) fn unknown_object(&self, name: &str) -> String {
        let mut m = format!("object `{name}` is not declared in this file or its includes");
        if let Some(s) = did_you_mean(name, self.names()) {
            m.push_str(&format!("; did you mean `{s}`?"));
        }
        m
    }

    /// The field `name` of `object`, or a message naming the closest field.
    pub(crate) fn field(&self, object: &ObjectDef, name: &str) -> Result<FieldType, String> {
        match object.fields.get(name) {
            Some(t) => Ok(t.clone()),
            None => {
                let mut m = format!("{} has no field `{name}`", object.name);
                if let Some(s) = did_you_mean(name, object.fields.keys().map(String::as_str)) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                Err(m)
            }
        }
    }

    /// Follows a dotted path (`DISPLAYCONTACT.MAILADDRESS.CITY`) through nested objects.
    pub(crate) fn resolve<S: AsRef<str>>(
        &self,
        object: &ObjectDef,
        segments: &[S],
    ) -> Result<FieldType, String> {
        let mut current: &ObjectDef = object;
        let mut ty = None;
        for (i, seg) in segments.iter().enumerate() {
            let seg = seg.as_ref();
            let t = match ty.take() {
                None => self.field(current, seg)?,
                Some(FieldType::Children(o)) if seg == "records" => FieldType::List(o),
                Some(FieldType::Children(_)) if seg == "totalSize" => FieldType::Int,
                Some(FieldType::Children(_)) if seg == "done" => FieldType::Bool,
                Some(FieldType::Children(o)) => {
                    return Err(format!(
                        "children({o}) has `records`, `totalSize` and `done`, not `{seg}`"
                    ));
                }
                Some(FieldType::Ref(o)) => {
                    let def = self.get(&o).ok_or_else(|| self.unknown_object(&o))?;
                    current = def;
                    self.field(current, seg)?
                }
                Some(t) => {
                    let before: Vec<&str> = segments[..i].iter().map(AsRef::as_ref).collect();
                    return Err(format!(
                        "`{}` is {t}, it has no field `{seg}`",
                        before.join(".")
                    ));
                }
            };
            ty = Some(t);
        }
        ty.ok_or_else(|| "the path is empty".to_owned())
    }

    /// A sample record with every declared field, used to check that a JSONPath selects
    /// something that exists and to learn what it selects.
    pub(crate) fn shape(&self, object: &ObjectDef) -> Value {
        self.shape_at(object, 0)
    }

    fn shape_at(&self, object: &ObjectDef, depth: usize) -> Value {
        let mut m = Map::new();
        for (name, ty) in &object.fields {
            m.insert(name.clone(), self.sample(ty, depth));
        }
        Value::Object(m)
    }

    fn sample(&self, ty: &FieldType, depth: usize) -> Value {
        let nested = |o: &str| -> Value {
            match self.get(o) {
                Some(def) if depth < SHAPE_DEPTH => self.shape_at(def, depth + 1),
                _ => Value::Object(Map::new()),
            }
        };
        match ty {
            FieldType::Ref(o) => nested(o),
            FieldType::List(o) => Value::Array(vec![nested(o)]),
            FieldType::Children(o) => {
                let mut m = Map::new();
                m.insert("totalSize".into(), Value::from(1));
                m.insert("done".into(), Value::Bool(true));
                m.insert("records".into(), Value::Array(vec![nested(o)]));
                Value::Object(m)
            }
            FieldType::Bool => Value::Bool(false),
            FieldType::Int | FieldType::Decimal => Value::from(0),
            _ => Value::String(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> (Catalog, Arc<ObjectDef>) {
        let mut c = Catalog::default();
        let addr = Arc::new(ObjectDef {
            name: "MAILADDRESS".into(),
            system: SystemName::Intacct,
            fields: [("CITY".to_owned(), FieldType::String { max: Some(80) })].into(),
        });
        let contact = Arc::new(ObjectDef {
            name: "CONTACTINFO".into(),
            system: SystemName::Intacct,
            fields: [(
                "MAILADDRESS".to_owned(),
                FieldType::Ref("MAILADDRESS".into()),
            )]
            .into(),
        });
        let customer = Arc::new(ObjectDef {
            name: "CUSTOMER".into(),
            system: SystemName::Intacct,
            fields: [
                ("NAME".to_owned(), FieldType::String { max: Some(100) }),
                (
                    "DISPLAYCONTACT".to_owned(),
                    FieldType::Ref("CONTACTINFO".into()),
                ),
            ]
            .into(),
        });
        c.insert(addr);
        c.insert(contact);
        c.insert(customer.clone());
        (c, customer)
    }

    #[test]
    fn parses_types() {
        assert_eq!(
            FieldType::parse("string(80)"),
            Ok(FieldType::String { max: Some(80) })
        );
        assert_eq!(
            FieldType::parse(" ref( Account ) "),
            Ok(FieldType::Ref("Account".into()))
        );
        assert!(FieldType::parse("string(0)").is_err());
        assert!(FieldType::parse("list()").is_err());
        assert!(FieldType::parse("int(3)").is_err());
        assert!(
            FieldType::parse("strng")
                .unwrap_err()
                .contains("did you mean `string`")
        );
        assert_eq!(
            FieldType::parse("children(X)").unwrap().to_string(),
            "children(X)"
        );
    }

    #[test]
    fn resolves_nested_paths_with_suggestions() {
        let (c, customer) = catalog();
        assert_eq!(
            c.resolve(&customer, &["DISPLAYCONTACT", "MAILADDRESS", "CITY"]),
            Ok(FieldType::String { max: Some(80) })
        );
        let err = c
            .resolve(&customer, &["DISPLAYCONTACT", "MAILADRESS", "CITY"])
            .unwrap_err();
        assert!(err.contains("did you mean `MAILADDRESS`"), "{err}");
        let err = c.resolve(&customer, &["NAME", "X"]).unwrap_err();
        assert!(err.contains("`NAME` is string(100)"), "{err}");
    }

    #[test]
    fn shape_has_every_field() {
        let (c, customer) = catalog();
        let shape = c.shape(&customer);
        assert_eq!(shape["DISPLAYCONTACT"]["MAILADDRESS"]["CITY"], "");
    }
}
