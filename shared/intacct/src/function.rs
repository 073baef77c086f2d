//! The functions of a request's `<content>`, each with its `controlid`.

use lf_domain::{EntityId, IdempotencyKey};
use serde_json::{Map, Value};

use crate::error::IntacctError;
use crate::fields::object_element;
use crate::query::{Query, ReadByQuery};
use crate::xml::XmlElement;

/// The SDK's cap on keys in one `read`.
pub const READ_MAX_KEYS: usize = 100;

/// One `<function controlid="…">` with its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    control_id: String,
    body: XmlElement,
    write: bool,
}

/// A fresh random controlid for functions whose replay does not matter (reads).
pub(crate) fn random_control_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn check_control_id(id: &str) -> Result<(), IntacctError> {
    let len = id.chars().count();
    if (1..=256).contains(&len) && !id.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(IntacctError::invalid(format!(
            "controlid {id:?} must be 1 to 256 characters without control characters"
        )))
    }
}

impl Function {
    fn new(body: XmlElement, write: bool) -> Self {
        Self {
            control_id: random_control_id(),
            body,
            write,
        }
    }

    /// A function body this crate does not model (another legacy function, `inspect`…).
    /// `write` says whether it changes data, which decides `uniqueid` and retry behaviour.
    pub fn raw(body: XmlElement, write: bool) -> Self {
        Self::new(body, write)
    }

    /// `<create>` of one or more objects (`<CUSTOMER>…</CUSTOMER>`, possibly of different types).
    pub fn create(objects: impl IntoIterator<Item = XmlElement>) -> Self {
        let mut body = XmlElement::new("create");
        for o in objects {
            body.push(o);
        }
        Self::new(body, true)
    }

    /// `<create>` of one object from a field tree (the mapping engine's output).
    pub fn create_fields(object: &str, fields: &Map<String, Value>) -> Result<Self, IntacctError> {
        Ok(Self::create([object_element(object, fields)?]))
    }

    /// `<update>` of one or more objects; each must carry `RECORDNO` or its id field. Only the
    /// fields sent change; an empty element clears a field.
    pub fn update(objects: impl IntoIterator<Item = XmlElement>) -> Self {
        let mut body = XmlElement::new("update");
        for o in objects {
            body.push(o);
        }
        Self::new(body, true)
    }

    /// `<update>` of one object from a field tree.
    pub fn update_fields(object: &str, fields: &Map<String, Value>) -> Result<Self, IntacctError> {
        Ok(Self::update([object_element(object, fields)?]))
    }

    /// `<delete>` by RECORDNOs.
    pub fn delete<I, S>(object: &str, record_nos: I) -> Result<Self, IntacctError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = join_keys(object, record_nos)?;
        Ok(Self::new(
            XmlElement::new("delete")
                .child(XmlElement::with_text("object", object))
                .child(XmlElement::with_text("keys", keys)),
            true,
        ))
    }

    /// `<read>` by RECORDNOs (at most 100), all fields unless `fields` are given.
    pub fn read<I, S>(
        object: &str,
        record_nos: I,
        fields: &[&str],
        docparid: Option<&str>,
    ) -> Result<Self, IntacctError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = join_keys(object, record_nos)?;
        if keys.split(',').count() > READ_MAX_KEYS {
            return Err(IntacctError::invalid(format!(
                "read of {object}: at most {READ_MAX_KEYS} keys per function"
            )));
        }
        Ok(Self::new(
            XmlElement::new("read")
                .child(XmlElement::with_text("object", object))
                .child(XmlElement::with_text("keys", keys))
                .child(XmlElement::with_text("fields", field_list(fields)))
                .child(XmlElement::with_text("returnFormat", "xml"))
                .opt_text("docparid", docparid),
            false,
        ))
    }

    /// `<readByName>` by the object's id field (CUSTOMERID, ITEMID…).
    pub fn read_by_name<I, S>(object: &str, names: I, fields: &[&str]) -> Result<Self, IntacctError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = join_keys(object, names)?;
        Ok(Self::new(
            XmlElement::new("readByName")
                .child(XmlElement::with_text("object", object))
                .child(XmlElement::with_text("keys", keys))
                .child(XmlElement::with_text("fields", field_list(fields)))
                .child(XmlElement::with_text("returnFormat", "xml")),
            false,
        ))
    }

    /// The first page of a `readByQuery`.
    pub fn read_by_query(query: &ReadByQuery) -> Result<Self, IntacctError> {
        Ok(Self::new(query.to_element()?, false))
    }

    /// The next page of a `readByQuery`, by the `resultId` of the previous page.
    pub fn read_more(result_id: &str) -> Self {
        Self::new(
            XmlElement::new("readMore").child(XmlElement::with_text("resultId", result_id)),
            false,
        )
    }

    /// One page of a `query`, starting at `offset`.
    pub fn query(query: &Query, offset: u64) -> Result<Self, IntacctError> {
        Ok(Self::new(query.to_element(offset)?, false))
    }

    /// `<lookup>`: the object's fields, types and relationships.
    pub fn lookup(object: &str) -> Self {
        Self::new(
            XmlElement::new("lookup").child(XmlElement::with_text("object", object)),
            false,
        )
    }

    /// `<getAPISession>`, optionally for one entity. Must be alone in its request.
    pub fn get_api_session(entity: Option<&EntityId>) -> Self {
        let mut body = XmlElement::new("getAPISession");
        if let Some(e) = entity {
            body.push(XmlElement::with_text("locationid", e.as_str()));
        }
        Self::new(body, false)
    }

    /// Sets the controlid (1 to 256 characters).
    pub fn with_control_id(mut self, control_id: impl Into<String>) -> Result<Self, IntacctError> {
        let id = control_id.into();
        check_control_id(&id)?;
        self.control_id = id;
        Ok(self)
    }

    /// Uses the idempotency key as controlid, so a replay of this write under `uniqueid=true`
    /// is recognised by the gateway instead of being applied twice. Keys are at most 200
    /// printable ASCII characters, which always fits.
    pub fn with_idempotency_key(mut self, key: &IdempotencyKey) -> Self {
        self.control_id = key.as_str().to_owned();
        self
    }

    /// The `controlid` attribute the result will carry.
    pub fn control_id(&self) -> &str {
        &self.control_id
    }

    /// The function's name (`create`, `readByQuery`, `create_invoice`…).
    pub fn name(&self) -> &str {
        self.body.name()
    }

    /// Whether the function changes data.
    pub fn is_write(&self) -> bool {
        self.write
    }

    /// The function element (`<create>…</create>`).
    pub fn body(&self) -> &XmlElement {
        &self.body
    }

    pub(crate) fn to_element(&self) -> XmlElement {
        XmlElement::new("function")
            .attr("controlid", self.control_id.as_str())
            .child(self.body.clone())
    }
}

/// A `<fields>` value: the names comma-separated, or `*` for all.
pub(crate) fn field_list<S: AsRef<str>>(fields: &[S]) -> String {
    if fields.is_empty() {
        "*".to_owned()
    } else {
        fields
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn join_keys<I, S>(object: &str, keys: I) -> Result<String, IntacctError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let keys: Vec<String> = keys
        .into_iter()
        .map(|k| k.as_ref().trim().to_owned())
        .collect();
    if keys.is_empty() {
        return Err(IntacctError::invalid(format!("{object}: no keys given")));
    }
    if let Some(bad) = keys.iter().find(|k| k.is_empty() || k.contains(',')) {
        return Err(IntacctError::invalid(format!(
            "{object}: key {bad:?} is empty or contains a comma (keys are comma-separated)"
        )));
    }
    Ok(keys.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_functions_have_the_documented_shape() {
        let f = Function::delete("CUSTOMER", ["112", "113"])
            .unwrap()
            .with_control_id("f1")
            .unwrap();
        assert_eq!(
            f.to_element().to_xml().unwrap(),
            "<function controlid=\"f1\"><delete><object>CUSTOMER</object><keys>112,113</keys></delete></function>"
        );
        assert!(f.is_write());
        let r = Function::read("CLASS", ["5", "6"], &[], None).unwrap();
        assert_eq!(
            r.body().to_xml().unwrap(),
            "<read><object>CLASS</object><keys>5,6</keys><fields>*</fields><returnFormat>xml</returnFormat></read>"
        );
        assert!(!r.is_write());
        assert_eq!(
            Function::read_more("6465763031VyprCMCoHYQAAGr@aRsAAAAU4")
                .body()
                .to_xml()
                .unwrap(),
            "<readMore><resultId>6465763031VyprCMCoHYQAAGr@aRsAAAAU4</resultId></readMore>"
        );
        assert_eq!(
            Function::get_api_session(Some(&EntityId::parse("California").unwrap()))
                .body()
                .to_xml()
                .unwrap(),
            "<getAPISession><locationid>California</locationid></getAPISession>"
        );
        assert_eq!(
            Function::get_api_session(None).body().to_xml().unwrap(),
            "<getAPISession/>"
        );
        assert_eq!(
            Function::lookup("ARINVOICE").body().to_xml().unwrap(),
            "<lookup><object>ARINVOICE</object></lookup>"
        );
    }

    #[test]
    fn keys_and_control_ids_are_checked() {
        assert!(Function::delete("CUSTOMER", Vec::<String>::new()).is_err());
        assert!(Function::delete("CUSTOMER", ["1,2"]).is_err());
        let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        assert!(Function::read("CUSTOMER", &many, &[], None).is_err());
        assert!(Function::lookup("X").with_control_id("").is_err());
        assert!(
            Function::lookup("X")
                .with_control_id("x".repeat(257))
                .is_err()
        );
        assert!(
            Function::lookup("X")
                .with_control_id("x".repeat(256))
                .is_ok()
        );
    }

    #[test]
    fn idempotency_key_becomes_the_control_id() {
        let key = IdempotencyKey::derive("opportunity-won", &["006A"]).unwrap();
        let f = Function::create([XmlElement::new("CUSTOMER")]).with_idempotency_key(&key);
        assert_eq!(f.control_id(), key.as_str());
        // Random controlids differ.
        assert_ne!(
            Function::lookup("A").control_id(),
            Function::lookup("A").control_id()
        );
    }
}
