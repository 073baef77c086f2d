//! A minimal XML gateway client for the tests: builds envelopes the way the SDKs write them and
//! reads answers with the crate's DTD-free parser.

use lf_sandbox_intacct::{Credentials, Element, Sandbox, SandboxConfig};

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    Login(Option<String>),
    Session(String),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub transaction: bool,
    pub unique_id: bool,
}

pub struct Client {
    http: reqwest::Client,
    pub url: String,
    pub creds: Credentials,
    pub auth: Auth,
}

pub struct Answer {
    pub status: u16,
    pub body: String,
    pub root: Element,
}

impl Answer {
    pub fn control_status(&self) -> &str {
        self.root.value("control.status")
    }

    pub fn control_errorno(&self) -> &str {
        self.root.value("errormessage.error.errorno")
    }

    pub fn auth_status(&self) -> &str {
        self.root.value("operation.authentication.status")
    }

    pub fn auth_errorno(&self) -> &str {
        self.root.value("operation.errormessage.error.errorno")
    }

    pub fn results(&self) -> Vec<&Element> {
        self.root
            .child("operation")
            .map(|o| o.children_named("result").collect())
            .unwrap_or_default()
    }

    pub fn result(&self, i: usize) -> &Element {
        let results = self.results();
        assert!(i < results.len(), "no result {i} in {}", self.body);
        results[i]
    }

    /// The status of result `i`.
    pub fn status(&self, i: usize) -> &str {
        self.result(i).value("status")
    }

    /// Every errorno of result `i`.
    pub fn errornos(&self, i: usize) -> Vec<String> {
        self.result(i)
            .child("errormessage")
            .map(|e| {
                e.children
                    .iter()
                    .map(|x| x.value("errorno").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every description and description2 of result `i`, joined.
    pub fn messages(&self, i: usize) -> String {
        self.result(i)
            .child("errormessage")
            .map(|e| {
                e.children
                    .iter()
                    .map(|x| format!("{} {}", x.value("description"), x.value("description2")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    }

    /// `<data>` of result `i`.
    pub fn data(&self, i: usize) -> &Element {
        self.result(i)
            .child("data")
            .unwrap_or_else(|| panic!("no data in result {i}: {}", self.body))
    }

    /// Asserts result `i` succeeded and returns its data (or the result when it has none).
    pub fn ok(&self, i: usize) -> &Element {
        assert_eq!(
            self.status(i),
            "success",
            "result {i} failed: {}",
            self.body
        );
        self.result(i).child("data").unwrap_or(self.result(i))
    }
}

pub async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts")
}

impl Client {
    /// Logs in at the top level on every request.
    pub fn new(sb: &Sandbox) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: sb.endpoint_url(),
            creds: sb.credentials().clone(),
            auth: Auth::Login(None),
        }
    }

    /// Logs in to `entity` on every request.
    pub fn in_entity(sb: &Sandbox, entity: &str) -> Self {
        Self {
            auth: Auth::Login(Some(entity.to_owned())),
            ..Self::new(sb)
        }
    }

    pub fn with_session(&self, id: &str) -> Self {
        Self {
            http: self.http.clone(),
            url: self.url.clone(),
            creds: self.creds.clone(),
            auth: Auth::Session(id.to_owned()),
        }
    }

    pub fn envelope(&self, opts: Opts, functions: &[(&str, &str)]) -> String {
        let auth = match &self.auth {
            Auth::Login(loc) => format!(
                "<login><userid>{}</userid><companyid>{}</companyid><password>{}</password><locationid>{}</locationid></login>",
                self.creds.user_id,
                self.creds.company_id,
                self.creds.user_password,
                loc.clone().unwrap_or_default()
            ),
            Auth::Session(id) => format!("<sessionid>{id}</sessionid>"),
        };
        let content: String = functions
            .iter()
            .map(|(id, body)| format!("<function controlid=\"{id}\">{body}</function>"))
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><control><senderid>{}</senderid><password>{}</password>\
             <controlid>req-1</controlid><uniqueid>{}</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace>\
             </control><operation transaction=\"{}\"><authentication>{auth}</authentication><content>{content}</content></operation></request>",
            self.creds.sender_id, self.creds.sender_password, opts.unique_id, opts.transaction
        )
    }

    pub async fn post(&self, body: String) -> Answer {
        self.try_post(body).await.expect("request answered")
    }

    pub async fn try_post(&self, body: String) -> Result<Answer, reqwest::Error> {
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = resp.text().await?;
        let root =
            lf_sandbox_intacct::element::parse(&body).unwrap_or_else(|_| Element::new("unparsed"));
        Ok(Answer { status, body, root })
    }

    pub async fn call(&self, functions: &[(&str, &str)]) -> Answer {
        self.call_with(Opts::default(), functions).await
    }

    pub async fn call_with(&self, opts: Opts, functions: &[(&str, &str)]) -> Answer {
        self.post(self.envelope(opts, functions)).await
    }

    /// One function, which must succeed; returns its data.
    pub async fn one(&self, body: &str) -> Element {
        let a = self.call(&[("f1", body)]).await;
        a.ok(0).clone()
    }

    /// A new session (in `location`; `None` = the caller's, `Some("")` = top level).
    pub async fn session(&self, location: Option<&str>) -> String {
        let body = match location {
            None => "<getAPISession/>".to_owned(),
            Some(loc) => format!("<getAPISession><locationid>{loc}</locationid></getAPISession>"),
        };
        let data = self.one(&body).await;
        data.value("api.sessionid").to_owned()
    }
}

/// A customer create body with the required DISPLAYCONTACT.
pub fn customer(id: &str, name: &str, extra: &str) -> String {
    format!(
        "<create><CUSTOMER><CUSTOMERID>{id}</CUSTOMERID><NAME>{name}</NAME><DISPLAYCONTACT><PRINTAS>{name}</PRINTAS></DISPLAYCONTACT>{extra}</CUSTOMER></create>"
    )
}

/// A result field whose name has a dot in it (`CUSTOMER.NAME`, `SUM.AMOUNT`): the gateway
/// writes those as one flat element.
pub fn flat<'a>(row: &'a Element, name: &str) -> &'a str {
    row.child(name).map_or("", |c| c.text.as_str())
}
