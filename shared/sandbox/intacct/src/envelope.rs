//! The gateway's request and response envelopes (protocols.md B2, B4).

use crate::element::{self, Element};

/// The `<control>` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Control {
    pub sender_id: String,
    pub password: String,
    pub control_id: String,
    /// The docs make `true` the default; both SDKs always send it explicitly.
    pub unique_id: bool,
    pub dtd_version: String,
    pub include_whitespace: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Auth {
    Login {
        user_id: String,
        company_id: String,
        password: String,
        location_id: Option<String>,
    },
    Session(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionCall {
    pub control_id: String,
    /// The one element inside `<function>` (`<create>`, `<readByQuery>`…).
    pub body: Element,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub transaction: bool,
    pub auth: Auth,
    pub functions: Vec<FunctionCall>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub control: Control,
    pub operation: Operation,
}

/// Why a request was refused before any function ran: the control-level `XL03000003`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Malformed {
    /// What of `<control>` could be read, for the echo.
    pub control: Option<Box<Control>>,
    pub message: String,
}

/// Parses and schema-checks a request body.
pub(crate) fn parse_request(body: &str) -> Result<Request, Malformed> {
    let root = element::parse(body).map_err(|e| Malformed {
        control: None,
        message: format!("XML Parse error: {e}"),
    })?;
    let schema = |control: Option<Box<Control>>, msg: String| Malformed {
        control,
        message: format!("XML Parse schema error: {msg}"),
    };
    if root.name != "request" {
        return Err(schema(
            None,
            format!("Expecting element 'request', got '{}'", root.name),
        ));
    }
    let control_el = root.child("control").ok_or_else(|| {
        schema(
            None,
            "Element 'request': Missing child element 'control'".into(),
        )
    })?;
    let control = parse_control(control_el).map_err(|m| schema(None, m))?;
    let operation_el = root.child("operation").ok_or_else(|| {
        schema(
            Some(Box::new(control.clone())),
            "Element 'request': Missing child element 'operation'".into(),
        )
    })?;
    let operation =
        parse_operation(operation_el).map_err(|m| schema(Some(Box::new(control.clone())), m))?;
    Ok(Request { control, operation })
}

fn required<'a>(parent: &'a Element, name: &str) -> Result<&'a str, String> {
    parent
        .text_of(name)
        .ok_or_else(|| format!("Element '{}': Missing child element '{name}'", parent.name))
}

fn parse_bool_el(parent: &Element, name: &str, default: bool) -> Result<bool, String> {
    match parent.text_of(name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "Element '{name}': '{other}' is not a valid value (true or false)"
        )),
    }
}

fn parse_control(el: &Element) -> Result<Control, String> {
    let control = Control {
        sender_id: required(el, "senderid")?.to_owned(),
        password: required(el, "password")?.to_owned(),
        control_id: required(el, "controlid")?.to_owned(),
        unique_id: parse_bool_el(el, "uniqueid", true)?,
        dtd_version: required(el, "dtdversion")?.to_owned(),
        include_whitespace: parse_bool_el(el, "includewhitespace", true)?,
    };
    if control.dtd_version != "3.0" {
        return Err(format!(
            "Element 'dtdversion': '{}' is not supported (this gateway speaks 3.0)",
            control.dtd_version
        ));
    }
    Ok(control)
}

fn parse_operation(el: &Element) -> Result<Operation, String> {
    let transaction = match el.attr("transaction") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(format!(
                "Attribute 'transaction': '{other}' is not a valid value (true or false)"
            ));
        }
    };
    let auth_el = el
        .child("authentication")
        .ok_or("Element 'operation': Missing child element 'authentication'")?;
    let auth = if let Some(login) = auth_el.child("login") {
        Auth::Login {
            user_id: required(login, "userid")?.to_owned(),
            company_id: required(login, "companyid")?.to_owned(),
            password: required(login, "password")?.to_owned(),
            location_id: login.non_empty("locationid").map(str::to_owned),
        }
    } else if let Some(session) = auth_el.text_of("sessionid") {
        Auth::Session(session.to_owned())
    } else {
        return Err("Element 'authentication': Expecting one of 'login', 'sessionid'".into());
    };
    let content = el
        .child("content")
        .ok_or("Element 'operation': Missing child element 'content'")?;
    let mut functions = Vec::new();
    for f in &content.children {
        if f.name != "function" {
            return Err(format!(
                "Element 'content': unexpected element '{}', expecting 'function'",
                f.name
            ));
        }
        let control_id = f
            .attr("controlid")
            .filter(|c| !c.trim().is_empty())
            .ok_or("Element 'function': The attribute 'controlid' is required but missing")?;
        let body = match f.children.as_slice() {
            [one] => one.clone(),
            [] => return Err("Element 'function': Missing child element".into()),
            _ => {
                return Err("Element 'function': exactly one function element is allowed".into());
            }
        };
        // The gateway validates the whole request before running any of it.
        crate::content::check_function(&body)?;
        functions.push(FunctionCall {
            control_id: control_id.to_owned(),
            body,
        });
    }
    Ok(Operation {
        transaction,
        auth,
        functions,
    })
}

// ---------------------------------------------------------------------------------------------
// responses

/// One `<error>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorEntry {
    pub errorno: String,
    pub description: String,
    pub description2: String,
    pub correction: String,
}

impl ErrorEntry {
    pub(crate) fn new(errorno: &str, description2: impl Into<String>) -> Self {
        Self {
            errorno: errorno.to_owned(),
            description: String::new(),
            description2: description2.into(),
            correction: String::new(),
        }
    }

    pub(crate) fn described(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    pub(crate) fn correction(mut self, correction: impl Into<String>) -> Self {
        self.correction = correction.into();
        self
    }

    fn element(&self) -> Element {
        Element::new("error")
            .with_child(Element::leaf("errorno", &self.errorno))
            .with_child(Element::leaf("description", &self.description))
            .with_child(Element::leaf("description2", &self.description2))
            .with_child(Element::leaf("correction", &self.correction))
    }
}

pub(crate) fn error_message(errors: &[ErrorEntry]) -> Element {
    let mut el = Element::new("errormessage");
    el.children = errors.iter().map(ErrorEntry::element).collect();
    el
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Failure,
    Aborted,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Aborted => "aborted",
        }
    }
}

/// One `<result>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionResult {
    pub status: Status,
    pub function: String,
    pub control_id: String,
    /// Legacy create functions answer with `<key>`.
    pub key: Option<String>,
    pub data: Option<Element>,
    pub errors: Vec<ErrorEntry>,
}

impl FunctionResult {
    fn element(&self) -> Element {
        let mut el = Element::new("result")
            .with_child(Element::leaf("status", self.status.as_str()))
            .with_child(Element::leaf("function", &self.function))
            .with_child(Element::leaf("controlid", &self.control_id));
        if let Some(key) = &self.key {
            el.children.push(Element::leaf("key", key));
        }
        if let Some(data) = &self.data {
            el.children.push(data.clone());
        }
        if !self.errors.is_empty() {
            el.children.push(error_message(&self.errors));
        }
        el
    }
}

/// The `<authentication>` block of a response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuthBlock {
    pub success: bool,
    pub user_id: String,
    pub company_id: String,
    pub location_id: String,
    pub session_timestamp: Option<String>,
    pub session_timeout: Option<String>,
}

fn control_echo(control: Option<&Control>, success: bool) -> Element {
    let mut el = Element::new("control").with_child(Element::leaf(
        "status",
        if success { "success" } else { "failure" },
    ));
    if let Some(c) = control {
        el.children.push(Element::leaf("senderid", &c.sender_id));
        el.children.push(Element::leaf("controlid", &c.control_id));
        el.children.push(Element::leaf(
            "uniqueid",
            if c.unique_id { "true" } else { "false" },
        ));
        el.children
            .push(Element::leaf("dtdversion", &c.dtd_version));
    }
    el
}

fn document(root: &Element, pretty: bool) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    root.write(pretty, &mut out);
    if pretty {
        out.push('\n');
    }
    out
}

/// A control-level failure: nothing ran.
pub(crate) fn control_failure(control: Option<&Control>, errors: &[ErrorEntry]) -> String {
    let root = Element::new("response")
        .with_child(control_echo(control, false))
        .with_child(error_message(errors));
    document(&root, control.is_none_or(|c| c.include_whitespace))
}

/// A gateway answer with no control echo (GW-0010 and friends).
pub(crate) fn gateway_failure(errorno: &str, description: &str) -> String {
    let root = Element::new("response")
        .with_child(Element::new("control").with_child(Element::leaf("status", "failure")))
        .with_child(
            Element::new("errormessage").with_child(
                Element::new("error")
                    .with_child(Element::leaf("errorno", errorno))
                    .with_child(Element::leaf("description", description)),
            ),
        );
    document(&root, true)
}

fn auth_element(auth: &AuthBlock) -> Element {
    let mut el = Element::new("authentication")
        .with_child(Element::leaf(
            "status",
            if auth.success { "success" } else { "failure" },
        ))
        .with_child(Element::leaf("userid", &auth.user_id))
        .with_child(Element::leaf("companyid", &auth.company_id))
        .with_child(Element::leaf("locationid", &auth.location_id));
    if let Some(ts) = &auth.session_timestamp {
        el.children.push(Element::leaf("sessiontimestamp", ts));
    }
    if let Some(to) = &auth.session_timeout {
        el.children.push(Element::leaf("sessiontimeout", to));
    }
    el
}

/// Authentication failed: no function ran.
pub(crate) fn auth_failure(control: &Control, auth: &AuthBlock, errors: &[ErrorEntry]) -> String {
    let operation = Element::new("operation")
        .with_child(auth_element(auth))
        .with_child(error_message(errors));
    let root = Element::new("response")
        .with_child(control_echo(Some(control), true))
        .with_child(operation);
    document(&root, control.include_whitespace)
}

/// Functions ran; one result each, in order.
pub(crate) fn operation_response(
    control: &Control,
    auth: &AuthBlock,
    results: &[FunctionResult],
) -> String {
    let mut operation = Element::new("operation").with_child(auth_element(auth));
    operation
        .children
        .extend(results.iter().map(FunctionResult::element));
    let root = Element::new("response")
        .with_child(control_echo(Some(control), true))
        .with_child(operation);
    document(&root, control.include_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<request><control><senderid>s</senderid><password>p</password><controlid>c1</controlid>
<uniqueid>false</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control>
<operation transaction="true"><authentication><login><userid>u</userid><companyid>co</companyid>
<password>pw</password><locationid/></login></authentication>
<content><function controlid="f1"><readByQuery><object>CUSTOMER</object></readByQuery></function></content>
</operation></request>"#;

    #[test]
    fn reads_the_sdk_envelope() {
        let r = parse_request(REQ).unwrap();
        assert_eq!(r.control.sender_id, "s");
        assert!(!r.control.unique_id);
        assert!(!r.control.include_whitespace);
        assert!(r.operation.transaction);
        assert_eq!(
            r.operation.auth,
            Auth::Login {
                user_id: "u".into(),
                company_id: "co".into(),
                password: "pw".into(),
                location_id: None
            }
        );
        assert_eq!(r.operation.functions.len(), 1);
        assert_eq!(r.operation.functions[0].control_id, "f1");
        assert_eq!(r.operation.functions[0].body.name, "readByQuery");
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let evil = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"boom\">]>{}",
            &REQ[REQ.find("<request>").unwrap()..]
        );
        let e = parse_request(&evil).unwrap_err();
        assert!(e.message.contains("DOCTYPE"), "{}", e.message);
        let entity = REQ.replace("<senderid>s<", "<senderid>&x;<");
        let e = parse_request(&entity).unwrap_err();
        assert!(
            e.message.contains("Entity 'x' not defined"),
            "{}",
            e.message
        );
        let ok = REQ.replace("<senderid>s<", "<senderid>a&amp;b&#65;<");
        assert_eq!(parse_request(&ok).unwrap().control.sender_id, "a&bA");
    }

    #[test]
    fn mismatched_tags_report_where() {
        let bad = REQ.replace("</readByQuery>", "</readbyquery>");
        let e = parse_request(&bad).unwrap_err();
        assert!(e.control.is_none());
        assert!(e.message.starts_with("XML Parse error:"), "{}", e.message);
        assert!(e.message.contains("Line: 6"), "{}", e.message);
    }

    #[test]
    fn schema_errors_keep_the_control_echo_when_readable() {
        let bad = REQ.replace(r#"<function controlid="f1">"#, "<function>");
        let e = parse_request(&bad).unwrap_err();
        assert_eq!(e.control.unwrap().control_id, "c1");
        assert!(e.message.contains("controlid"), "{}", e.message);
    }
}
