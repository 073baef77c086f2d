// Drives `ledgerforce sandbox intacct --seed demo` with the official Sage Intacct SDK for
// JavaScript, unmodified: read customers, create one, query it back, work through an API
// session, see a function failure surface as the SDK's ResultException, and send the SDK's
// default output for customers, contacts, AR invoices and Order Entry documents.
//
// Configuration comes from the environment (run.sh sets it from the sandbox's banner):
//   INTACCT_ENDPOINT_URL   read by the SDK itself; must be a *.intacct.com URL (the SDK refuses
//                          other hosts), e.g. http://ledgerforce-sandbox.intacct.com:PORT/ia/xml/xmlgw.phtml
//   INTACCT_SENDER_ID, INTACCT_SENDER_PASSWORD, INTACCT_COMPANY_ID, INTACCT_USER_ID,
//   INTACCT_USER_PASSWORD
// Run it with `node --import ./loopback-dns.mjs check.mjs` so that name resolves to 127.0.0.1.
import assert from "node:assert/strict";
import { ClientConfig, OnlineClient, SessionProvider, Functions, Exceptions } from "@intacct/intacct-sdk";

const { ReadByQuery } = Functions.Common;
const { Query, QueryFilter, QuerySelect } = Functions.Common.NewQuery;
const { CustomerCreate, CustomerUpdate, InvoiceCreate, InvoiceLineCreate } = Functions.AccountsReceivable;
const { ContactCreate } = Functions.Company;
const { OrderEntryTransactionCreate, OrderEntryTransactionLineCreate } = Functions.OrderEntry;

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

function config(entityId) {
  const c = new ClientConfig();
  c.senderId = env("INTACCT_SENDER_ID");
  c.senderPassword = env("INTACCT_SENDER_PASSWORD");
  c.companyId = env("INTACCT_COMPANY_ID");
  c.userId = env("INTACCT_USER_ID");
  c.userPassword = env("INTACCT_USER_PASSWORD");
  c.entityId = entityId;
  return c;
}

const checks = [];
function check(name, fn) {
  checks.push({ name, fn });
}

const us = new OnlineClient(config("US"));

check("readByQuery lists the US entity's customers", async () => {
  const rbq = new ReadByQuery();
  rbq.objectName = "CUSTOMER";
  rbq.fields = ["CUSTOMERID", "NAME", "ONHOLD"];
  rbq.pageSize = 100;
  const response = await us.execute(rbq);
  const result = response.getResult();
  result.ensureStatusSuccess();
  assert.equal(result.listType, "customer");
  assert.equal(result.totalCount, 5);
  const ids = result.data.map((c) => c.CUSTOMERID);
  assert.deepEqual(ids, ["C-0001", "C-1001", "C-1002", "C-1003", "C-1004"]);
  const onHold = result.data.filter((c) => c.ONHOLD === "true").map((c) => c.CUSTOMERID);
  assert.deepEqual(onHold, ["C-1003"]);
});

check("CustomerCreate creates a customer", async () => {
  const create = new CustomerCreate();
  create.customerId = "SDK-0001";
  create.customerName = "SDK Interop Inc";
  create.printAs = "SDK Interop Inc";
  create.primaryEmailAddress = "sdk@interop.example";
  const response = await us.execute(create);
  const result = response.getResult();
  result.ensureStatusSuccess();
  assert.equal(result.data.length, 1);
  assert.equal(result.data[0].CUSTOMERID, "SDK-0001");
  assert.ok(Number(result.data[0].RECORDNO) > 0);
});

check("query finds the new customer by filter", async () => {
  const query = new Query();
  query.fromObject = "CUSTOMER";
  query.selectFields = new QuerySelect.SelectBuilder().addFields(["CUSTOMERID", "NAME", "MEGAENTITYID"]).selects;
  query.filter = new QueryFilter.Filter("CUSTOMERID").equalTo("SDK-0001");
  const response = await us.execute(query);
  const result = response.getResult();
  result.ensureStatusSuccess();
  assert.equal(result.totalCount, 1);
  assert.equal(result.data[0].NAME, "SDK Interop Inc");
  assert.equal(result.data[0].MEGAENTITYID, "US");
});

check("an API session for the UK entity works and sees UK invoices", async () => {
  const sessionConfig = await SessionProvider.factory(config("UK"));
  assert.ok(sessionConfig.sessionId.endsWith(".."), sessionConfig.sessionId);
  assert.match(sessionConfig.endpointUrl, /\.intacct\.com:\d+\/ia\/xml\/xmlgw\.phtml$/);
  const uk = new OnlineClient(sessionConfig);
  const rbq = new ReadByQuery();
  rbq.objectName = "ARINVOICE";
  rbq.fields = ["RECORDID", "CURRENCY", "STATE"];
  rbq.query = "CURRENCY = 'GBP'";
  const result = (await uk.execute(rbq)).getResult();
  result.ensureStatusSuccess();
  assert.deepEqual(result.data.map((i) => i.RECORDID), ["INV-20001", "INV-20002"]);
});

check("a duplicate create surfaces as the SDK's ResultException with BL34000061", async () => {
  const create = new CustomerCreate();
  create.customerId = "SDK-0001";
  create.customerName = "Again";
  create.printAs = "Again";
  // OnlineClient.execute raises a function failure as ResultException.
  await assert.rejects(us.execute(create), (e) => {
    assert.ok(e instanceof Exceptions.ResultException, String(e));
    assert.ok(e.errors.some((x) => x.includes("BL34000061")), JSON.stringify(e.errors));
    return true;
  });
});

check("a wrong user password is an authentication failure", async () => {
  const bad = config("US");
  bad.userPassword = "wrong";
  const rbq = new ReadByQuery();
  rbq.objectName = "CUSTOMER";
  await assert.rejects(new OnlineClient(bad).execute(rbq), (e) => {
    assert.ok(e instanceof Exceptions.ResponseException, String(e));
    return true;
  });
});

async function readOne(object, fields, query) {
  const rbq = new ReadByQuery();
  rbq.objectName = object;
  rbq.fields = fields;
  rbq.query = query;
  const result = (await us.execute(rbq)).getResult();
  result.ensureStatusSuccess();
  assert.equal(result.data.length, 1, `${object} where ${query}`);
  return result.data[0];
}

check("CustomerCreate without a print-as name: the customer prints under its NAME", async () => {
  // No printAs set: the SDK writes an empty <PRINTAS/>, which the real company fills in.
  const create = new CustomerCreate();
  create.customerId = "SDK-0002";
  create.customerName = "Default Print Co";
  create.primaryEmailAddress = "print@interop.example";
  (await us.execute(create)).getResult().ensureStatusSuccess();
  const c = await readOne("CUSTOMER", ["CUSTOMERID", "DISPLAYCONTACT.PRINTAS"], "CUSTOMERID = 'SDK-0002'");
  assert.equal(c["DISPLAYCONTACT.PRINTAS"], "Default Print Co");
});

check("CustomerUpdate of one field keeps the display contact", async () => {
  // The SDK writes an empty DISPLAYCONTACT on every update.
  const update = new CustomerUpdate();
  update.customerId = "SDK-0002";
  update.comments = "updated by the SDK";
  (await us.execute(update)).getResult().ensureStatusSuccess();
  const c = await readOne(
    "CUSTOMER",
    ["COMMENTS", "DISPLAYCONTACT.PRINTAS", "DISPLAYCONTACT.EMAIL1"],
    "CUSTOMERID = 'SDK-0002'",
  );
  assert.equal(c.COMMENTS, "updated by the SDK");
  assert.equal(c["DISPLAYCONTACT.PRINTAS"], "Default Print Co");
  assert.equal(c["DISPLAYCONTACT.EMAIL1"], "print@interop.example");
});

check("ContactCreate with the SDK's fields, a tax id among them", async () => {
  const create = new ContactCreate();
  create.contactName = "SDK Interop Contact";
  create.printAs = "SDK Interop Contact";
  create.taxId = "12-3456789";
  create.primaryEmailAddress = "contact@interop.example";
  (await us.execute(create)).getResult().ensureStatusSuccess();
  const c = await readOne("CONTACT", ["CONTACTNAME", "TAXID"], "CONTACTNAME = 'SDK Interop Contact'");
  assert.equal(c.TAXID, "12-3456789");
});

/** 1000 EUR on the 15th two months back, and the Intacct Daily Rate EUR->USD in force then. */
async function eurRateOn(day) {
  const rate = await readOne(
    "EXCHANGERATE",
    ["RECORDNO"],
    "FROM_CURRENCY = 'EUR' AND TO_CURRENCY = 'USD' AND TYPENAME = 'Intacct Daily Rate'",
  );
  const rbq = new ReadByQuery();
  rbq.objectName = "EXCHANGERATEENTRY";
  rbq.fields = ["EFFECTIVE_START_DATE", "RATE"];
  rbq.query = `EXCHANGERATEID = '${rate.RECORDNO}'`;
  const entries = (await us.execute(rbq)).getResult();
  entries.ensureStatusSuccess();
  const asDate = (mdy) => {
    const [m, d, y] = mdy.split("/").map(Number);
    return new Date(y, m - 1, d);
  };
  const inForce = entries.data
    .filter((e) => asDate(e.EFFECTIVE_START_DATE) <= day)
    .sort((a, b) => asDate(b.EFFECTIVE_START_DATE) - asDate(a.EFFECTIVE_START_DATE));
  assert.ok(inForce.length > 0, "a rate on or before the document date");
  return Number(inForce[0].RATE);
}

function twoMonthsBack() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth() - 2, 15);
}

check("InvoiceCreate in EUR with the SDK's defaults converts at the document date's rate", async () => {
  // No rate type (the SDK writes <exchratetype/>), no term or due date (<termname/>): the
  // company's default rate type and the customer's term apply.
  const day = twoMonthsBack();
  const invoice = new InvoiceCreate();
  invoice.customerId = "C-1001";
  invoice.transactionDate = day;
  invoice.transactionCurrency = "EUR";
  const line = new InvoiceLineCreate();
  line.glAccountNumber = "4000";
  line.transactionAmount = 1000;
  invoice.lines = [line];
  const result = (await us.execute(invoice)).getResult();
  result.ensureStatusSuccess();
  const inv = await readOne(
    "ARINVOICE",
    ["CURRENCY", "BASECURR", "TRX_TOTALENTERED", "TOTALENTERED", "TERMNAME"],
    `RECORDNO = '${result.key}'`,
  );
  const rate = await eurRateOn(day);
  assert.equal(inv.CURRENCY, "EUR");
  assert.equal(inv.BASECURR, "USD");
  assert.equal(Number(inv.TRX_TOTALENTERED), 1000);
  assert.equal(Number(inv.TOTALENTERED), Math.round(1000 * rate * 100) / 100);
});

check("OrderEntryTransactionCreate with the SDK's defaults takes the customer's term", async () => {
  const order = new OrderEntryTransactionCreate();
  order.transactionDefinition = "Sales Order";
  order.transactionDate = twoMonthsBack();
  order.customerId = "C-1001";
  const line = new OrderEntryTransactionLineCreate();
  line.itemId = "SUB-PLAT";
  line.quantity = 2;
  order.lines = [line];
  const result = (await us.execute(order)).getResult();
  result.ensureStatusSuccess();
  assert.match(result.key, /^Sales Order-/);
  const doc = await readOne("SODOCUMENT", ["DOCID", "TERMNAME", "TRX_TOTAL"], `DOCID = '${result.key}'`);
  assert.equal(doc.TERMNAME, "Net 30");
  assert.ok(Number(doc.TRX_TOTAL) > 0, JSON.stringify(doc));
});

let passed = 0;
let failed = 0;
for (const { name, fn } of checks) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAILED - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === checks.length ? 0 : 1);
