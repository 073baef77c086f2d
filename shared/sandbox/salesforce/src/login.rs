//! SOAP `login()` at `POST /services/Soap/u/{version}`: the default login of jsforce
//! (`conn.login(username, password)`) and of simple-salesforce (username, password and
//! security token).
//!
//! The answer is the partner API's `loginResponse` with the result elements in its default
//! namespace (simple-salesforce looks them up by unprefixed tag name, jsforce by regular
//! expression), and bad credentials get the real `INVALID_LOGIN` fault with HTTP 500. The
//! session id is an ordinary access token: it works as a Bearer token on REST.

use quick_xml::events::Event;

use crate::auth::{Credentials, DEMO_SECURITY_TOKEN};
use crate::schema::CORPORATE_CURRENCY;

/// What one SOAP call gets back: status and envelope.
pub(crate) struct SoapReply {
    pub status: u16,
    pub body: String,
}

/// What the org tells `login()` about itself.
pub(crate) struct LoginContext<'a> {
    pub credentials: &'a Credentials,
    pub base_url: &'a str,
    /// `62.0`, as the URL named it.
    pub version: &'a str,
}

/// How long a session lasts, as `userInfo.sessionSecondsValid` says (the org default).
const SESSION_SECONDS_VALID: u32 = 7200;

/// A `login()` call's arguments.
#[derive(Debug, PartialEq, Eq)]
struct LoginCall {
    username: String,
    password: String,
}

/// Answers one SOAP call; `issue` mints the session for a successful login.
pub(crate) fn answer(
    ctx: &LoginContext<'_>,
    body: &[u8],
    issue: impl FnOnce() -> String,
) -> SoapReply {
    let call = match read_login(body) {
        Ok(Some(call)) => call,
        Ok(None) => {
            return fault(
                "UNKNOWN_EXCEPTION",
                "this sandbox's SOAP API answers login() only; use the REST API for data",
            );
        }
        Err(message) => return client_fault(&message),
    };
    let creds = ctx.credentials;
    // From a trusted network (loopback is one) the security token is optional, as in an org
    // whose trusted IP ranges cover the caller; appended, it must be the right one.
    let password_ok = call.password == creds.password
        || call.password == format!("{}{DEMO_SECURITY_TOKEN}", creds.password);
    if !call.username.eq_ignore_ascii_case(&creds.username) || !password_ok {
        return fault(
            "INVALID_LOGIN",
            "Invalid username, password, security token; or user locked out.",
        );
    }
    SoapReply {
        status: 200,
        body: login_response(ctx, &issue()),
    }
}

fn login_response(ctx: &LoginContext<'_>, session_id: &str) -> String {
    let creds = ctx.credentials;
    let base = ctx.base_url.trim_end_matches('/');
    let v = ctx.version;
    let org15 = &creds.org_id[..15.min(creds.org_id.len())];
    let e = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<soapenv:Body><loginResponse><result>",
            "<metadataServerUrl>{base}/services/Soap/m/{v}/{org15}</metadataServerUrl>",
            "<passwordExpired>false</passwordExpired>",
            "<sandbox>true</sandbox>",
            "<serverUrl>{base}/services/Soap/u/{v}/{org15}</serverUrl>",
            "<sessionId>{session}</sessionId>",
            "<userId>{user}</userId>",
            "<userInfo>",
            "<accessibilityMode>false</accessibilityMode>",
            "<chatterExternal>false</chatterExternal>",
            "<currencySymbol>$</currencySymbol>",
            "<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>",
            "<orgDefaultCurrencyIsoCode>{currency}</orgDefaultCurrencyIsoCode>",
            "<orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale>",
            "<orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>",
            "<orgHasPersonAccounts>false</orgHasPersonAccounts>",
            "<organizationId>{org}</organizationId>",
            "<organizationMultiCurrency>true</organizationMultiCurrency>",
            "<organizationName>Ledgerforce Sandbox</organizationName>",
            "<profileId>00e8d0000000001AAA</profileId>",
            r#"<roleId xsi:nil="true"/>"#,
            "<sessionSecondsValid>{seconds}</sessionSecondsValid>",
            r#"<userDefaultCurrencyIsoCode xsi:nil="true"/>"#,
            "<userEmail>{username}</userEmail>",
            "<userFullName>Integration User</userFullName>",
            "<userId>{user}</userId>",
            "<userLanguage>en_US</userLanguage>",
            "<userLocale>en_US</userLocale>",
            "<userName>{username}</userName>",
            "<userTimeZone>GMT</userTimeZone>",
            "<userType>Standard</userType>",
            "<userUiSkin>Theme3</userUiSkin>",
            "</userInfo>",
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>",
        ),
        base = e(base),
        v = e(v),
        org15 = e(org15),
        session = e(session_id),
        user = e(&creds.user_id),
        org = e(&creds.org_id),
        currency = CORPORATE_CURRENCY,
        seconds = SESSION_SECONDS_VALID,
        username = e(&creds.username),
    )
}

/// A server-side fault (`sf:` codes), as Salesforce sends for a refused login: HTTP 500.
fn fault(code: &str, message: &str) -> SoapReply {
    SoapReply {
        status: 500,
        body: fault_envelope(&format!("sf:{code}"), code, message),
    }
}

/// A request the SOAP layer could not read: `soapenv:Client`, HTTP 500 as SOAP 1.1 wants.
fn client_fault(message: &str) -> SoapReply {
    SoapReply {
        status: 500,
        body: fault_envelope("soapenv:Client", "INVALID_XML", message),
    }
}

fn fault_envelope(faultcode: &str, code: &str, message: &str) -> String {
    let message = quick_xml::escape::escape(message);
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<soapenv:Body><soapenv:Fault>",
            "<faultcode>{faultcode}</faultcode>",
            "<faultstring>{code}: {message}</faultstring>",
            "<detail>",
            r#"<sf:LoginFault xsi:type="sf:LoginFault">"#,
            "<sf:exceptionCode>{code}</sf:exceptionCode>",
            "<sf:exceptionMessage>{message}</sf:exceptionMessage>",
            "</sf:LoginFault>",
            "</detail>",
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        ),
        faultcode = faultcode,
        code = code,
        message = message,
    )
}

/// The largest login envelope read: a login is a few hundred bytes.
const MAX_ENVELOPE: usize = 64 * 1024;

/// Finds `login/username` and `login/password` in the body, by local name (jsforce and
/// simple-salesforce use different prefixes). `Ok(None)`: a SOAP call other than `login`.
/// DTDs are refused and only the predefined entities and character references are read.
fn read_login(body: &[u8]) -> Result<Option<LoginCall>, String> {
    if body.len() > MAX_ENVELOPE {
        return Err("the request envelope is too large".into());
    }
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_owned())?;
    let mut reader = quick_xml::Reader::from_str(text.trim_start_matches('\u{feff}'));
    let mut path: Vec<String> = Vec::new();
    let mut in_login = false;
    let mut saw_login = false;
    let (mut username, mut password) = (None::<String>, None::<String>);
    let mut raw = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the request is not well-formed XML: {e}"))?;
        match event {
            Event::DocType(_) => return Err("a DOCTYPE is not allowed".into()),
            Event::Start(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                if name == "login" && path.last().is_some_and(|p| p == "Body") {
                    in_login = true;
                    saw_login = true;
                }
                path.push(name);
                raw.clear();
            }
            Event::Empty(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                if name == "login" && path.last().is_some_and(|p| p == "Body") {
                    saw_login = true;
                }
                if in_login && path.last().is_some_and(|p| p == "login") {
                    match name.as_str() {
                        "username" => username = Some(String::new()),
                        "password" => password = Some(String::new()),
                        _ => {}
                    }
                }
            }
            Event::Text(t) => raw.push_str(&t.xml10_content()),
            Event::CData(c) => {
                raw.push_str(&quick_xml::escape::escape(c.into_inner().as_ref()));
            }
            Event::GeneralRef(r) => {
                raw.push('&');
                raw.push_str(&r.into_inner());
                raw.push(';');
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent_is_login = path.last().is_some_and(|p| p == "login");
                if in_login && parent_is_login && (name == "username" || name == "password") {
                    let value = quick_xml::escape::unescape(&raw)
                        .map_err(|e| format!("bad character or entity reference in {name}: {e}"))?
                        .into_owned();
                    if name == "username" {
                        username = Some(value);
                    } else {
                        password = Some(value);
                    }
                }
                if name == "login" {
                    in_login = false;
                }
                raw.clear();
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(LoginCall {
            username: username.trim().to_owned(),
            password,
        })),
        _ if saw_login => Err("login() needs both username and password".into()),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_login_arguments_whatever_the_prefixes() {
        let jsforce = r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>a@b.c</username><password>p&amp;w&lt;d&#33;</password></login></se:Body></se:Envelope>"#;
        assert_eq!(
            read_login(jsforce.as_bytes()),
            Ok(Some(LoginCall {
                username: "a@b.c".into(),
                password: "p&w<d!".into()
            }))
        );
        let simple = r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">
  <env:Header><urn:CallOptions><urn:client>simple-salesforce</urn:client></urn:CallOptions></env:Header>
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
     <n1:username>a@b.c</n1:username><n1:password>secretTOKEN</n1:password>
  </n1:login></env:Body></env:Envelope>"#;
        assert_eq!(
            read_login(simple.as_bytes()).unwrap().unwrap().password,
            "secretTOKEN"
        );
    }

    #[test]
    fn refuses_doctype_half_logins_and_unknown_entities() {
        let dtd = r#"<!DOCTYPE x [<!ENTITY e "boom">]><Envelope><Body><login><username>&e;</username><password>x</password></login></Body></Envelope>"#;
        assert!(read_login(dtd.as_bytes()).unwrap_err().contains("DOCTYPE"));
        let half = "<Envelope><Body><login><username>a</username></login></Body></Envelope>";
        assert!(read_login(half.as_bytes()).is_err());
        let entity = "<Envelope><Body><login><username>&e;</username><password>x</password></login></Body></Envelope>";
        assert!(read_login(entity.as_bytes()).is_err());
        let other = "<Envelope><Body><query><queryString>x</queryString></query></Body></Envelope>";
        assert_eq!(read_login(other.as_bytes()), Ok(None));
    }
}
