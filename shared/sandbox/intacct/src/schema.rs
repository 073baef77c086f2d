//! The objects the emulated company knows, their fields and types.
//!
//! Field names follow protocols.md B7 and the SDK samples; fields the public material does not
//! name (marked "emulator" in docs/sandbox-intacct.md) are kept few and plain.

/// How a field's values compare and what a write must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Text,
    Integer,
    Decimal,
    Boolean,
    /// `MM/DD/YYYY`.
    Date,
    /// `MM/DD/YYYY HH:MM:SS`.
    DateTime,
    /// A nested block such as DISPLAYCONTACT; its children are free-form text.
    Group,
}

impl Ty {
    /// The DATATYPE `lookup` reports.
    pub fn lookup_name(self) -> &'static str {
        match self {
            Ty::Text => "TEXT",
            Ty::Integer => "INTEGER",
            Ty::Decimal => "DECIMAL",
            Ty::Boolean => "BOOLEAN",
            Ty::Date => "DATE",
            Ty::DateTime => "TIMESTAMP",
            Ty::Group => "OBJECT",
        }
    }
}

/// Who may set a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Optional on create, changeable on update.
    Write,
    /// Must be present and non-empty on create.
    Required,
    /// Set by the system; a write that names it fails.
    ReadOnly,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub access: Access,
    /// A customer-defined field (ledgerforce's SFDC_* ids): `lookup` marks it ISCUSTOM.
    pub custom: bool,
}

const fn f(name: &'static str, ty: Ty, access: Access) -> Field {
    Field {
        name,
        ty,
        access,
        custom: false,
    }
}

const fn custom(name: &'static str) -> Field {
    Field {
        name,
        ty: Ty::Text,
        access: Access::Write,
        custom: true,
    }
}

use Access::{ReadOnly as RO, Required as REQ, Write as W};
use Ty::{
    Boolean as B, Date as D, DateTime as DT, Decimal as N, Group as G, Integer as I, Text as T,
};

/// A field that names a record of another object, reachable in queries as `PREFIX.FIELD`.
#[derive(Debug)]
pub(crate) struct Relation {
    pub prefix: &'static str,
    pub object: &'static str,
    pub local: &'static str,
    pub remote: &'static str,
}

/// Which generic write functions accept the object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writes {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
}

const READ_ONLY: Writes = Writes {
    create: false,
    update: false,
    delete: false,
};
const ALL: Writes = Writes {
    create: true,
    update: true,
    delete: true,
};

#[derive(Debug)]
pub(crate) struct ObjectDef {
    pub name: &'static str,
    /// The human key: what `readByName` and keyed `update` use (CUSTOMERID).
    pub id_field: Option<&'static str>,
    pub fields: &'static [Field],
    pub relations: &'static [Relation],
    pub writes: Writes,
    /// Owned by an entity when created in one (customers, transactions); reference data
    /// (currencies, terms, accounts, entities) always belongs to the top level.
    pub entity_owned: bool,
    /// Child records `read` nests under a header: (container element, child object, link field).
    pub lines: Option<(&'static str, &'static str, &'static str)>,
}

impl ObjectDef {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The fields every record carries, set by the company, never by a request: RECORDNO first,
/// then the object's own fields, then the audit fields. Master data keeps its creation
/// timestamp in WHENCREATED; documents use WHENCREATED for the document date and AUWHENCREATED
/// for the timestamp, as Intacct does.
macro_rules! fields {
    ($($field:expr),* $(,)?) => {
        &[f("RECORDNO", I, RO), $($field,)*
          f("WHENCREATED", DT, RO), f("WHENMODIFIED", DT, RO), f("CREATEDBY", T, RO),
          f("MODIFIEDBY", T, RO), f("MEGAENTITYID", T, RO), f("MEGAENTITYNAME", T, RO)]
    };
}
macro_rules! document_fields {
    ($($field:expr),* $(,)?) => {
        &[f("RECORDNO", I, RO), $($field,)*
          f("WHENCREATED", D, RO), f("AUWHENCREATED", DT, RO), f("WHENMODIFIED", DT, RO),
          f("CREATEDBY", T, RO), f("MODIFIEDBY", T, RO), f("MEGAENTITYID", T, RO),
          f("MEGAENTITYNAME", T, RO)]
    };
}

/// `CUSTOMER.FIELD` through the record's CUSTOMERID (invoices, payments, revenue).
static CUSTOMER_BY_CUSTOMERID: [Relation; 1] = [Relation {
    prefix: "CUSTOMER",
    object: "CUSTOMER",
    local: "CUSTOMERID",
    remote: "CUSTOMERID",
}];
/// `CUSTOMER.FIELD` through an Order Entry document's CUSTVENDID.
static CUSTOMER_BY_CUSTVENDID: [Relation; 1] = [Relation {
    prefix: "CUSTOMER",
    object: "CUSTOMER",
    local: "CUSTVENDID",
    remote: "CUSTOMERID",
}];

pub(crate) static OBJECTS: &[ObjectDef] = &[
    ObjectDef {
        name: "CUSTOMER",
        id_field: Some("CUSTOMERID"),
        fields: fields![
            f("CUSTOMERID", T, W),
            f("NAME", T, REQ),
            f("DISPLAYCONTACT", G, W),
            f("STATUS", T, W),
            f("ONETIME", B, W),
            f("HIDEDISPLAYCONTACT", B, W),
            f("CUSTTYPE", T, W),
            f("CUSTREPID", T, W),
            f("PARENTID", T, W),
            f("GLGROUP", T, W),
            f("TERRITORYID", T, W),
            f("SUPDOCID", T, W),
            f("TERMNAME", T, W),
            f("OFFSETGLACCOUNTNO", T, W),
            f("ARACCOUNT", T, W),
            f("SHIPPINGMETHOD", T, W),
            f("RESALENO", T, W),
            f("TAXID", T, W),
            f("CREDITLIMIT", N, W),
            f("TOTALDUE", N, RO),
            f("ONHOLD", B, W),
            f("DELIVERYOPTIONS", T, W),
            f("DELIVERY_OPTIONS", T, W),
            f("CUSTMESSAGEID", T, W),
            f("COMMENTS", T, W),
            f("CURRENCY", T, W),
            f("ARINVOICEPRINTTEMPLATEID", T, W),
            f("OEQUOTEPRINTTEMPLATEID", T, W),
            f("OEORDERPRINTTEMPLATEID", T, W),
            f("OELISTPRINTTEMPLATEID", T, W),
            f("OEINVOICEPRINTTEMPLATEID", T, W),
            f("OEADJPRINTTEMPLATEID", T, W),
            f("OEOTHERPRINTTEMPLATEID", T, W),
            f("CONTACTINFO", G, W),
            f("BILLTO", G, W),
            f("SHIPTO", G, W),
            f("OBJECTRESTRICTION", T, W),
            f("RESTRICTEDLOCATIONS", T, W),
            f("RESTRICTEDDEPARTMENTS", T, W),
            custom("SFDC_ACCOUNT_ID"),
        ],
        relations: &[],
        writes: ALL,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "CONTACT",
        id_field: Some("CONTACTNAME"),
        fields: fields![
            f("CONTACTNAME", T, REQ),
            f("PRINTAS", T, REQ),
            f("COMPANYNAME", T, W),
            f("TAXABLE", B, W),
            f("TAXID", T, W),
            f("TAXGROUP", T, W),
            f("PREFIX", T, W),
            f("FIRSTNAME", T, W),
            f("LASTNAME", T, W),
            f("INITIAL", T, W),
            f("PHONE1", T, W),
            f("PHONE2", T, W),
            f("CELLPHONE", T, W),
            f("PAGER", T, W),
            f("FAX", T, W),
            f("EMAIL1", T, W),
            f("EMAIL2", T, W),
            f("URL1", T, W),
            f("URL2", T, W),
            f("STATUS", T, W),
            f("MAILADDRESS", G, W),
            custom("SFDC_CONTACT_ID"),
        ],
        relations: &[],
        writes: ALL,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "ITEM",
        id_field: Some("ITEMID"),
        fields: fields![
            f("ITEMID", T, REQ),
            f("NAME", T, REQ),
            f("ITEMTYPE", T, W),
            f("STATUS", T, W),
            f("PRODUCTLINEID", T, W),
            f("BASEPRICE", N, W),
            f("TAXABLE", B, W),
            f("EXTENDED_DESCRIPTION", T, W),
            f("GLACCOUNTNO", T, W),
        ],
        relations: &[],
        writes: ALL,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "GLACCOUNT",
        id_field: Some("ACCOUNTNO"),
        fields: fields![
            f("ACCOUNTNO", T, REQ),
            f("TITLE", T, REQ),
            f("ACCOUNTTYPE", T, W),
            f("NORMALBALANCE", T, W),
            f("CLOSINGTYPE", T, W),
            f("STATUS", T, W),
        ],
        relations: &[],
        writes: ALL,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "ARTERM",
        id_field: Some("NAME"),
        fields: fields![
            f("NAME", T, REQ),
            f("DESCRIPTION", T, W),
            f("STATUS", T, W),
            f("DUEDATE", I, W),
            f("DUEFROM", T, W),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "DEPARTMENT",
        id_field: Some("DEPARTMENTID"),
        fields: fields![
            f("DEPARTMENTID", T, REQ),
            f("TITLE", T, REQ),
            f("STATUS", T, W),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "CLASS",
        id_field: Some("CLASSID"),
        fields: fields![f("CLASSID", T, REQ), f("NAME", T, REQ), f("STATUS", T, W),],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "TAXGROUP",
        id_field: Some("NAME"),
        fields: fields![
            f("NAME", T, REQ),
            f("GROUPTYPE", T, W),
            f("DESCRIPTION", T, W),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "TAXSOLUTION",
        id_field: Some("SOLUTIONID"),
        fields: fields![
            f("SOLUTIONID", T, REQ),
            f("DESCRIPTION", T, W),
            f("TYPE", T, W),
            f("STATUS", T, W),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "REVRECTEMPLATE",
        id_field: Some("TEMPLATEID"),
        fields: fields![
            f("TEMPLATEID", T, REQ),
            f("DESCRIPTION", T, W),
            f("RECMETHOD", T, W),
            f("STATUS", T, W),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "LOCATIONENTITY",
        id_field: Some("LOCATIONID"),
        fields: fields![
            f("LOCATIONID", T, RO),
            f("NAME", T, RO),
            f("CURRENCY", T, RO),
            f("COUNTRY", T, RO),
            f("STATUS", T, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "TRXCURRENCIES",
        id_field: Some("CODE"),
        fields: fields![f("CODE", T, RO), f("FULLNAME", T, RO), f("SYMBOL", T, RO),],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "EXCHANGERATETYPES",
        id_field: Some("NAME"),
        fields: fields![f("NAME", T, RO), f("ISDEFAULT", B, RO),],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "EXCHANGERATE",
        id_field: None,
        fields: fields![
            f("FROM_CURRENCY", T, RO),
            f("TO_CURRENCY", T, RO),
            f("TYPENAME", T, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: Some(("EXCHANGERATEENTRIES", "EXCHANGERATEENTRY", "EXCHANGERATEID")),
    },
    ObjectDef {
        name: "EXCHANGERATEENTRY",
        id_field: None,
        fields: fields![
            f("EXCHANGERATEID", I, RO),
            f("EFFECTIVE_START_DATE", D, RO),
            f("RATE", N, RO),
            f("RECIP_RATE", N, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: false,
        lines: None,
    },
    ObjectDef {
        name: "ARINVOICE",
        id_field: Some("RECORDID"),
        fields: document_fields![
            f("RECORDID", T, RO),
            f("RECORDTYPE", T, RO),
            f("MODULEKEY", T, RO),
            f("STATE", T, RO),
            f("CUSTOMERID", T, RO),
            f("CUSTOMERNAME", T, RO),
            f("DOCNUMBER", T, RO),
            f("DESCRIPTION", T, RO),
            f("TERMNAME", T, RO),
            f("WHENPOSTED", D, RO),
            f("WHENDUE", D, RO),
            f("WHENPAID", D, RO),
            f("CURRENCY", T, RO),
            f("BASECURR", T, RO),
            f("EXCHANGE_RATE", N, RO),
            f("TOTALENTERED", N, RO),
            f("TOTALPAID", N, RO),
            f("TOTALDUE", N, RO),
            f("TRX_TOTALENTERED", N, RO),
            f("TRX_TOTALPAID", N, RO),
            f("TRX_TOTALDUE", N, RO),
            f("ONHOLD", B, RO),
            f("EXTERNALID", T, RO),
            f("SODOCUMENTID", T, RO),
            custom("SFDC_OPPORTUNITY_ID"),
        ],
        relations: &CUSTOMER_BY_CUSTOMERID,
        writes: Writes {
            create: false,
            update: false,
            delete: true,
        },
        entity_owned: true,
        lines: Some(("ARINVOICEITEMS", "ARINVOICEITEM", "RECORDKEY")),
    },
    ObjectDef {
        name: "ARINVOICEITEM",
        id_field: None,
        fields: fields![
            f("RECORDKEY", I, RO),
            f("LINE_NO", I, RO),
            f("ACCOUNTNO", T, RO),
            f("AMOUNT", N, RO),
            f("TRX_AMOUNT", N, RO),
            f("CURRENCY", T, RO),
            f("ITEMID", T, RO),
            f("MEMO", T, RO),
            f("LOCATIONID", T, RO),
            f("DEPARTMENTID", T, RO),
            f("CUSTOMERID", T, RO),
            f("REVRECTEMPLATE", T, RO),
            f("REVRECSTARTDATE", D, RO),
            f("REVRECENDDATE", D, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "ARPYMT",
        id_field: None,
        fields: document_fields![
            f("CUSTOMERID", T, REQ),
            f("CUSTOMERNAME", T, RO),
            f("PAYMENTMETHOD", T, REQ),
            f("FINANCIALENTITY", T, W),
            f("DOCNUMBER", T, W),
            f("DESCRIPTION", T, W),
            f("RECEIPTDATE", D, REQ),
            f("PAYMENTDATE", D, W),
            f("STATE", T, RO),
            f("CURRENCY", T, W),
            f("BASECURR", T, RO),
            f("EXCHANGE_RATE", N, RO),
            f("TOTALENTERED", N, RO),
            f("TRX_TOTALENTERED", N, RO),
            f("TOTALAPPLIED", N, RO),
            f("TRX_TOTALAPPLIED", N, RO),
            f("ARPYMTDETAILS", G, W),
        ],
        relations: &CUSTOMER_BY_CUSTOMERID,
        writes: Writes {
            create: true,
            update: false,
            delete: false,
        },
        entity_owned: true,
        lines: Some(("ARPYMTDETAILS", "ARPYMTDETAIL", "PAYMENTKEY")),
    },
    ObjectDef {
        name: "ARPYMTDETAIL",
        id_field: None,
        fields: fields![
            f("PAYMENTKEY", I, RO),
            f("RECORDKEY", I, RO),
            f("ENTRYKEY", I, RO),
            f("TRX_PAYMENTAMOUNT", N, RO),
            f("PAYMENTAMOUNT", N, RO),
            f("CURRENCY", T, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "SODOCUMENT",
        id_field: Some("DOCID"),
        fields: document_fields![
            f("DOCID", T, RO),
            f("DOCNO", T, RO),
            f("DOCPARID", T, RO),
            f("STATE", T, RO),
            f("CUSTVENDID", T, RO),
            f("CUSTVENDNAME", T, RO),
            f("WHENDUE", D, RO),
            f("TERMNAME", T, RO),
            f("PONUMBER", T, RO),
            f("CREATEDFROM", T, RO),
            f("MESSAGE", T, RO),
            f("CURRENCY", T, RO),
            f("BASECURR", T, RO),
            f("EXCHRATE", N, RO),
            f("SUBTOTAL", N, RO),
            f("TOTAL", N, RO),
            f("TRX_SUBTOTAL", N, RO),
            f("TRX_TOTAL", N, RO),
            f("PRRECORDKEY", I, RO),
            f("EXTERNALID", T, RO),
            custom("SFDC_OPPORTUNITY_ID"),
        ],
        relations: &CUSTOMER_BY_CUSTVENDID,
        writes: READ_ONLY,
        entity_owned: true,
        lines: Some(("SODOCUMENTENTRIES", "SODOCUMENTENTRY", "DOCHDRNO")),
    },
    ObjectDef {
        name: "SODOCUMENTENTRY",
        id_field: None,
        fields: fields![
            f("DOCHDRNO", I, RO),
            f("DOCHDRID", T, RO),
            f("LINE_NO", I, RO),
            f("ITEMID", T, RO),
            f("ITEMNAME", T, RO),
            f("ITEMDESC", T, RO),
            f("QUANTITY", N, RO),
            f("UNIT", T, RO),
            f("PRICE", N, RO),
            f("DISCOUNTPERCENT", N, RO),
            f("TOTAL", N, RO),
            f("TRX_PRICE", N, RO),
            f("TRX_TOTAL", N, RO),
            f("LOCATIONID", T, RO),
            f("DEPARTMENTID", T, RO),
            f("MEMO", T, RO),
            f("REVRECTEMPLATE", T, RO),
            f("REVRECSTARTDATE", D, RO),
            f("REVRECENDDATE", D, RO),
        ],
        relations: &[],
        writes: READ_ONLY,
        entity_owned: true,
        lines: None,
    },
    ObjectDef {
        name: "REVRECSCHEDULE",
        id_field: None,
        fields: fields![
            f("REVRECTEMPLATE", T, RO),
            f("SOURCEOBJECT", T, RO),
            f("SOURCEKEY", I, RO),
            f("SOURCELINEKEY", I, RO),
            f("DOCNUMBER", T, RO),
            f("CUSTOMERID", T, RO),
            f("ITEMID", T, RO),
            f("STARTDATE", D, RO),
            f("ENDDATE", D, RO),
            f("CURRENCY", T, RO),
            f("TOTALAMOUNT", N, RO),
        ],
        relations: &CUSTOMER_BY_CUSTOMERID,
        writes: READ_ONLY,
        entity_owned: true,
        lines: Some((
            "REVRECSCHEDULEENTRIES",
            "REVRECSCHEDULEENTRY",
            "REVRECSCHEDULEKEY",
        )),
    },
    ObjectDef {
        name: "REVRECSCHEDULEENTRY",
        id_field: None,
        fields: fields![
            f("REVRECSCHEDULEKEY", I, RO),
            f("CUSTOMERID", T, RO),
            f("ITEMID", T, RO),
            f("DOCNUMBER", T, RO),
            f("POSTINGDATE", D, RO),
            f("PERIOD", T, RO),
            f("AMOUNT", N, RO),
            f("CURRENCY", T, RO),
            f("POSTED", B, RO),
        ],
        relations: &CUSTOMER_BY_CUSTOMERID,
        writes: READ_ONLY,
        entity_owned: true,
        lines: None,
    },
];

/// The definition of `name` (object names are case-insensitive on the wire).
pub(crate) fn object(name: &str) -> Option<&'static ObjectDef> {
    OBJECTS
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(name.trim()))
}
