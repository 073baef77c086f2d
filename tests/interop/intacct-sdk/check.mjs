// Drives `ledgerforce sandbox intacct --seed demo` with the official Sage Intacct SDK for
// JavaScript, unmodified: read customers, create one, query it back, work through an API
// session, and see a function failure surface as the SDK's ResultException.
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
const { CustomerCreate } = Functions.AccountsReceivable;

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
