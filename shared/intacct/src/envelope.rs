//! The request envelope, written in the element order of the official SDKs:
//! `control` (senderid, password, controlid, uniqueid, dtdversion, includewhitespace), then
//! `operation` with `authentication` (login or sessionid) and `content`.

use std::fmt;

use lf_domain::EntityId;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Credentials;
use crate::error::IntacctError;
use crate::function::Function;
use crate::xml::{XmlElement, write_document};

/// How a request signs in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// User credentials, optionally into one entity (`<locationid>`).
    Login {
        credentials: &'a Credentials,
        entity: Option<&'a EntityId>,
    },
    /// A session from `getAPISession`.
    Session(&'a SecretString),
}

/// What goes into one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub credentials: &'a Credentials,
    pub control_id: &'a str,
    /// `true` makes the gateway refuse a function whose controlid already ran.
    pub unique_id: bool,
    /// `true` runs all functions in one database transaction.
    pub transaction: bool,
    pub auth: Auth<'a>,
    pub functions: &'a [Function],
}

/// A written request. It holds the sender password and the session id or user password, so it
/// is never shown.
pub(crate) struct RequestBody(Vec<u8>);

impl RequestBody {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestBody({} bytes, redacted)", self.0.len())
    }
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

impl Envelope<'_> {
    pub fn write(&self) -> Result<RequestBody, IntacctError> {
        if self.functions.is_empty() {
            return Err(IntacctError::invalid(
                "a request needs at least one function",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.functions.iter().find(|f| !seen.insert(f.control_id())) {
            return Err(IntacctError::invalid(format!(
                "controlid {:?} appears twice in one request; results could not be told apart",
                dup.control_id()
            )));
        }
        if self.functions.len() > 1 && self.functions.iter().any(|f| f.name() == "getAPISession") {
            return Err(IntacctError::invalid(
                "getAPISession must be the only function of its request",
            ));
        }
        let c = self.credentials;
        let control = XmlElement::new("control")
            .child(XmlElement::with_text("senderid", c.sender_id.as_str()))
            .child(XmlElement::with_text(
                "password",
                c.sender_password.expose_secret(),
            ))
            .child(XmlElement::with_text("controlid", self.control_id))
            .child(XmlElement::with_text("uniqueid", bool_text(self.unique_id)))
            .child(XmlElement::with_text("dtdversion", "3.0"))
            .child(XmlElement::with_text("includewhitespace", "false"));
        let authentication = match self.auth {
            Auth::Login {
                credentials,
                entity,
            } => XmlElement::new("authentication").child(
                XmlElement::new("login")
                    .child(XmlElement::with_text(
                        "userid",
                        credentials.user_id.as_str(),
                    ))
                    .child(XmlElement::with_text(
                        "companyid",
                        credentials.company_id.as_str(),
                    ))
                    .child(XmlElement::with_text(
                        "password",
                        credentials.user_password.expose_secret(),
                    ))
                    .opt_text("locationid", entity.map(EntityId::as_str)),
            ),
            Auth::Session(id) => XmlElement::new("authentication")
                .child(XmlElement::with_text("sessionid", id.expose_secret())),
        };
        let mut content = XmlElement::new("content");
        for f in self.functions {
            content.push(f.to_element());
        }
        let request = XmlElement::new("request").child(control).child(
            XmlElement::new("operation")
                .attr("transaction", bool_text(self.transaction))
                .child(authentication)
                .child(content),
        );
        Ok(RequestBody(write_document(&request)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            sender_id: "ourSender".into(),
            sender_password: SecretString::from("s3nder&pw"),
            company_id: "demo-co".into(),
            user_id: "xml_api".into(),
            user_password: SecretString::from("us<er>pw"),
        }
    }

    fn text(body: &RequestBody) -> String {
        String::from_utf8(body.bytes().to_vec()).unwrap()
    }

    #[test]
    fn session_envelope_matches_the_sdk_layout() {
        let creds = creds();
        let session = SecretString::from("sess-123..");
        let f = [Function::lookup("CUSTOMER")
            .with_control_id("fn-1")
            .unwrap()];
        let body = Envelope {
            credentials: &creds,
            control_id: "req-1",
            unique_id: false,
            transaction: false,
            auth: Auth::Session(&session),
            functions: &f,
        }
        .write()
        .unwrap();
        assert_eq!(
            text(&body),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><control><senderid>ourSender</senderid>\
<password>s3nder&amp;pw</password><controlid>req-1</controlid><uniqueid>false</uniqueid>\
<dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control>\
<operation transaction=\"false\"><authentication><sessionid>sess-123..</sessionid></authentication>\
<content><function controlid=\"fn-1\"><lookup><object>CUSTOMER</object></lookup></function></content>\
</operation></request>"
        );
        assert!(!format!("{body:?}").contains("sess-123"));
    }

    #[test]
    fn login_envelope_with_entity_and_transaction() {
        let creds = creds();
        let entity = EntityId::parse("US-WEST").unwrap();
        let f = [
            Function::delete("CLASS", ["5"])
                .unwrap()
                .with_control_id("a")
                .unwrap(),
            Function::delete("CLASS", ["6"])
                .unwrap()
                .with_control_id("b")
                .unwrap(),
        ];
        let body = Envelope {
            credentials: &creds,
            control_id: "req-2",
            unique_id: true,
            transaction: true,
            auth: Auth::Login {
                credentials: &creds,
                entity: Some(&entity),
            },
            functions: &f,
        }
        .write()
        .unwrap();
        let t = text(&body);
        assert!(t.contains("<uniqueid>true</uniqueid>"), "{t}");
        assert!(t.contains("<operation transaction=\"true\">"), "{t}");
        assert!(
            t.contains("<authentication><login><userid>xml_api</userid><companyid>demo-co</companyid><password>us&lt;er&gt;pw</password><locationid>US-WEST</locationid></login></authentication>"),
            "{t}"
        );
        assert!(
            t.contains("<function controlid=\"a\">") && t.contains("<function controlid=\"b\">")
        );
    }

    #[test]
    fn refuses_empty_duplicate_and_mixed_session_requests() {
        let creds = creds();
        let session = SecretString::from("s");
        let write = |functions: &[Function]| {
            Envelope {
                credentials: &creds,
                control_id: "r",
                unique_id: false,
                transaction: false,
                auth: Auth::Session(&session),
                functions,
            }
            .write()
        };
        assert!(write(&[]).is_err());
        let dup = [
            Function::lookup("A").with_control_id("same").unwrap(),
            Function::lookup("B").with_control_id("same").unwrap(),
        ];
        assert!(
            write(&dup)
                .unwrap_err()
                .to_string()
                .contains("appears twice")
        );
        let mixed = [Function::get_api_session(None), Function::lookup("A")];
        assert!(
            write(&mixed)
                .unwrap_err()
                .to_string()
                .contains("only function")
        );
    }
}
