//! The response envelope in its three layers: control, authentication, one result per
//! function (protocols.md B4).

use chrono::{DateTime, FixedOffset};

use crate::error::{ErrorDetail, IntacctError, ResultStatus};
use crate::xml::{XmlElement, parse_document};

/// `<control>` of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlBlock {
    pub success: bool,
    pub sender_id: Option<String>,
    pub control_id: Option<String>,
    pub unique_id: Option<String>,
    pub dtd_version: Option<String>,
}

/// `<authentication>` of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthenticationBlock {
    pub success: bool,
    pub user_id: Option<String>,
    pub company_id: Option<String>,
    /// The entity the request ran in; `None` at the top level.
    pub location_id: Option<String>,
    pub session_timestamp: Option<DateTime<FixedOffset>>,
    /// When the session expires unless used again (not always present).
    pub session_timeout: Option<DateTime<FixedOffset>>,
}

/// `<data>` of a successful (or partly successful) result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultData {
    pub listtype: Option<String>,
    pub count: Option<u64>,
    pub total_count: Option<u64>,
    pub num_remaining: Option<u64>,
    /// `readByQuery` continuation id for `readMore` (empty when nothing remains).
    pub result_id: Option<String>,
    /// `query` page offset.
    pub offset: Option<u64>,
    /// The records, in the order given (element names as Intacct wrote them).
    pub records: Vec<XmlElement>,
    /// `<key>` of a legacy create (`create_invoice`, `create_sotransaction`…), which answers
    /// with the new record's key beside, not inside, `<data>`.
    pub key: Option<String>,
}

impl ResultData {
    /// Rows still to fetch after this page (0 when absent).
    pub fn remaining(&self) -> u64 {
        self.num_remaining.unwrap_or(0)
    }
}

/// One `<result>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionResult {
    pub status: ResultStatus,
    pub function: String,
    pub control_id: String,
    /// `<key>` of a legacy create.
    pub key: Option<String>,
    pub data: Option<ResultData>,
    pub errors: Vec<ErrorDetail>,
}

impl FunctionResult {
    /// The data of a successful result, or the function error.
    pub fn into_data(self) -> Result<ResultData, IntacctError> {
        match self.status {
            ResultStatus::Success => {
                let mut data = self.data.unwrap_or_default();
                data.key = self.key;
                Ok(data)
            }
            status => Err(IntacctError::Function {
                function: self.function,
                control_id: self.control_id,
                status,
                errors: self.errors,
            }),
        }
    }
}

/// A whole response, layers kept apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub control: ControlBlock,
    /// Errors at the control layer (nothing was executed).
    pub control_errors: Vec<ErrorDetail>,
    pub authentication: Option<AuthenticationBlock>,
    /// Errors at the authentication layer (no function ran).
    pub authentication_errors: Vec<ErrorDetail>,
    pub results: Vec<FunctionResult>,
    /// `<acknowledgement><status>` of an asynchronous (offline) request.
    pub acknowledgement: Option<String>,
}

/// What a successful operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub authentication: AuthenticationBlock,
    pub results: Vec<FunctionResult>,
}

impl Response {
    /// The control failure, if any, as an error.
    pub fn control_error(&self) -> Option<IntacctError> {
        (!self.control.success).then(|| IntacctError::Control {
            errors: self.control_errors.clone(),
        })
    }

    /// Checks the control and authentication layers and returns the function results.
    /// `login` says whether the request signed in with user credentials.
    pub fn into_operation(self, login: bool) -> Result<Operation, IntacctError> {
        if let Some(e) = self.control_error() {
            return Err(e);
        }
        let authentication = self.authentication.ok_or_else(|| {
            IntacctError::protocol("control succeeded but the response has no <operation>")
        })?;
        if !authentication.success {
            return Err(IntacctError::Authentication {
                login,
                errors: self.authentication_errors,
            });
        }
        Ok(Operation {
            authentication,
            results: self.results,
        })
    }
}

fn opt_text(el: &XmlElement, name: &str) -> Option<String> {
    el.field(name).map(str::to_owned)
}

fn status_of(el: &XmlElement, layer: &str) -> Result<String, IntacctError> {
    el.field("status")
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| IntacctError::protocol(format!("<{layer}> has no <status>")))
}

fn success_flag(el: &XmlElement, layer: &str) -> Result<bool, IntacctError> {
    match status_of(el, layer)?.as_str() {
        "success" => Ok(true),
        "failure" => Ok(false),
        other => Err(IntacctError::protocol(format!(
            "<{layer}> status {other:?} is neither success nor failure"
        ))),
    }
}

fn errors_in(el: &XmlElement) -> Vec<ErrorDetail> {
    el.find("errormessage")
        .map(|m| {
            m.find_all("error")
                .map(|e| ErrorDetail {
                    errorno: e.field("errorno").unwrap_or_default().to_owned(),
                    description: e.field("description").unwrap_or_default().to_owned(),
                    description2: e.field("description2").unwrap_or_default().to_owned(),
                    correction: e.field("correction").unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn timestamp(el: &XmlElement, name: &str) -> Option<DateTime<FixedOffset>> {
    el.field(name)
        .and_then(|t| lf_domain::datetime::parse_datetime(t).ok())
}

fn number_attr(data: &XmlElement, name: &str) -> Result<Option<u64>, IntacctError> {
    match data.attribute(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            IntacctError::protocol(format!("<data {name}={v:?}> is not a whole number"))
        }),
    }
}

fn parse_data(data: XmlElement) -> Result<ResultData, IntacctError> {
    Ok(ResultData {
        listtype: data
            .attribute("listtype")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        count: number_attr(&data, "count")?,
        total_count: number_attr(&data, "totalcount")?,
        num_remaining: number_attr(&data, "numremaining")?,
        result_id: data
            .attribute("resultId")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        offset: number_attr(&data, "offset")?,
        // The records move out of the parsed tree: a page can hold thousands of them.
        records: data.into_children(),
        key: None,
    })
}

fn parse_result(mut el: XmlElement) -> Result<FunctionResult, IntacctError> {
    let status = match status_of(&el, "result")?.as_str() {
        "success" => ResultStatus::Success,
        "failure" => ResultStatus::Failure,
        "aborted" => ResultStatus::Aborted,
        other => {
            return Err(IntacctError::protocol(format!(
                "<result> status {other:?} is not success, failure or aborted"
            )));
        }
    };
    Ok(FunctionResult {
        status,
        function: opt_text(&el, "function").unwrap_or_default(),
        control_id: opt_text(&el, "controlid").unwrap_or_default(),
        key: opt_text(&el, "key"),
        errors: errors_in(&el),
        data: el.take("data").map(parse_data).transpose()?,
    })
}

/// Reads a response body. Malformed or hostile XML (DOCTYPE, custom entities) is refused.
pub fn parse_response(bytes: &[u8]) -> Result<Response, IntacctError> {
    let mut root = parse_document(bytes)?;
    if !root.name().eq_ignore_ascii_case("response") {
        return Err(IntacctError::protocol(format!(
            "root element is <{}>, not <response>",
            root.name()
        )));
    }
    let acknowledgement = root
        .find("acknowledgement")
        .and_then(|a| a.field("status"))
        .map(str::to_owned);
    let control_el = root
        .find("control")
        .ok_or_else(|| IntacctError::protocol("response has no <control>"))?;
    let control = ControlBlock {
        success: success_flag(control_el, "control")?,
        sender_id: opt_text(control_el, "senderid"),
        control_id: opt_text(control_el, "controlid"),
        unique_id: opt_text(control_el, "uniqueid"),
        dtd_version: opt_text(control_el, "dtdversion"),
    };
    let control_errors = errors_in(&root);
    let (authentication, authentication_errors, results) = match root.take("operation") {
        None => (None, Vec::new(), Vec::new()),
        Some(op) => {
            let auth_el = op
                .find("authentication")
                .ok_or_else(|| IntacctError::protocol("<operation> has no <authentication>"))?;
            let auth = AuthenticationBlock {
                success: success_flag(auth_el, "authentication")?,
                user_id: opt_text(auth_el, "userid"),
                company_id: opt_text(auth_el, "companyid"),
                location_id: opt_text(auth_el, "locationid"),
                session_timestamp: timestamp(auth_el, "sessiontimestamp"),
                session_timeout: timestamp(auth_el, "sessiontimeout"),
            };
            let errors = errors_in(&op);
            let results = op
                .into_children()
                .into_iter()
                .filter(|c| c.name().eq_ignore_ascii_case("result"))
                .map(parse_result)
                .collect::<Result<Vec<_>, _>>()?;
            (Some(auth), errors, results)
        }
    };
    Ok(Response {
        control,
        control_errors,
        authentication,
        authentication_errors,
        results,
        acknowledgement,
    })
}
