// Drives an unmodified jsforce Connection against a running `ledgerforce sandbox salesforce`.
// Usage: node check.mjs <instance URL> <JWT key file>
// Exits non-zero on the first failed check.

import { readFileSync } from 'node:fs';
import { createSign } from 'node:crypto';
import jsforce from 'jsforce';

// The sandbox's documented demo connected app and user (not secrets).
const CONSUMER_KEY = '3MVG9LedgerforceSandboxDemoConnectedApp.ConsumerKey.NotASecret.0001';
const CONSUMER_SECRET = 'ledgerforce-sandbox-demo-secret';
const USERNAME = 'integration@ledgerforce.sandbox';

const [base, keyFile] = process.argv.slice(2);
if (!base || !keyFile) {
  console.error('usage: node check.mjs <instance URL> <JWT key file>');
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, condition, detail) {
  if (condition) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    const shown = detail === undefined ? '' : `: ${JSON.stringify(detail).slice(0, 600)}`;
    console.log(`FAIL ${name}${shown}`);
  }
}

async function token(body, headers = {}) {
  const resp = await fetch(`${base}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: resp.status, json: await resp.json() };
}

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function jwtAssertion(claims) {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${signer.sign(readFileSync(keyFile, 'utf8')).toString('base64url')}`;
}

async function main() {
  // 1. Tokens: client credentials (Basic auth) and JWT bearer signed with the printed key.
  const basic = Buffer.from(`${CONSUMER_KEY}:${CONSUMER_SECRET}`).toString('base64');
  const cc = await token({ grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
  check('client credentials token', cc.status === 200 && cc.json.access_token, cc.json);

  const exp = Math.floor(Date.now() / 1000) + 180;
  const jwt = await token({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: jwtAssertion({ iss: CONSUMER_KEY, sub: USERNAME, aud: 'https://login.salesforce.com', exp }),
  });
  check('JWT bearer token', jwt.status === 200 && jwt.json.instance_url === base, jwt.json);
  const badAud = await token({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: jwtAssertion({ iss: CONSUMER_KEY, sub: USERNAME, aud: 'https://example.invalid', exp }),
  });
  check('JWT with a wrong audience is invalid_grant',
    badAud.status === 400 && badAud.json.error === 'invalid_grant', badAud.json);

  const conn = new jsforce.Connection({
    instanceUrl: jwt.json.instance_url,
    accessToken: jwt.json.access_token,
    version: '62.0',
  });

  // 2. Query.
  const eur = await conn.query("SELECT Id, Name, CurrencyIsoCode FROM Account WHERE CurrencyIsoCode = 'EUR' AND (NOT Name LIKE 'Volume Account%') ORDER BY Name");
  check('query returns the demo EUR accounts',
    eur.done && eur.totalSize === 4 && eur.records.every((r) => r.CurrencyIsoCode === 'EUR'),
    eur.records.map((r) => r.Name));

  const won = await conn.query(
    'SELECT Name, Amount, Account.Name, (SELECT Quantity, TotalPrice FROM OpportunityLineItems) FROM Opportunity WHERE IsWon = true ORDER BY CloseDate');
  check('relationship fields and child subqueries',
    won.totalSize >= 4 && won.records.every((r) => r.Account && r.Account.Name && r.OpportunityLineItems.totalSize >= 1),
    won.records[0]);

  // 3. Create.
  const created = await conn.sobject('Account').create({ Name: 'jsforce Interop GmbH', CurrencyIsoCode: 'EUR' });
  check('create', created.success === true && /^001[A-Za-z0-9]{15}$/.test(created.id), created);

  // 4. Upsert by external id: created, then updated.
  const up1 = await conn.sobject('Account').upsert(
    { Name: 'jsforce Upsert Ltd', Intacct_Customer_ID__c: 'JSF-1', CurrencyIsoCode: 'GBP' }, 'Intacct_Customer_ID__c');
  check('upsert creates', up1.success === true && up1.created === true && /^001/.test(up1.id), up1);
  const up2 = await conn.sobject('Account').upsert(
    { Name: 'jsforce Upsert Ltd (renamed)', Intacct_Customer_ID__c: 'JSF-1' }, 'Intacct_Customer_ID__c');
  check('upsert updates the same record', up2.success === true && up2.created === false && up2.id === up1.id, up2);
  const renamed = await conn.sobject('Account').retrieve(up1.id);
  check('retrieve sees the update', renamed.Name === 'jsforce Upsert Ltd (renamed)', renamed.Name);

  // 5. sObject Collections: several records in one call.
  const contacts = await conn.sobject('Contact').create([
    { LastName: 'Alpha', FirstName: 'Ada', AccountId: created.id, Email: 'ada.alpha@example.com' },
    { LastName: 'Bravo', FirstName: 'Ben', AccountId: created.id },
    { LastName: 'Charlie', FirstName: 'Cy', AccountId: created.id },
  ]);
  check('collections create', Array.isArray(contacts) && contacts.length === 3 && contacts.every((r) => r.success && /^003/.test(r.id)), contacts);
  const partial = await conn.sobject('Contact').create([
    { LastName: 'Delta', AccountId: created.id },
    { FirstName: 'No last name', AccountId: created.id },
  ]);
  check('collections report per-record errors',
    partial[0].success === true && partial[1].success === false && partial[1].errors[0].statusCode === 'REQUIRED_FIELD_MISSING',
    partial);
  const upMany = await conn.sobject('Account').upsert([
    { Name: 'Many One', Intacct_Customer_ID__c: 'JSF-2' },
    { Name: 'jsforce Upsert Ltd (again)', Intacct_Customer_ID__c: 'JSF-1' },
  ], 'Intacct_Customer_ID__c');
  check('collections upsert', upMany.length === 2 && upMany[0].created === true && upMany[1].created === false && upMany[1].id === up1.id, upMany);

  const back = await conn.query(`SELECT LastName, Account.Name FROM Contact WHERE AccountId = '${created.id}' ORDER BY LastName`);
  check('query sees the new contacts with their account',
    back.totalSize === 4 && back.records[0].LastName === 'Alpha' && back.records[0].Account.Name === 'jsforce Interop GmbH',
    back.records);

  // 6. Paging through nextRecordsUrl (the sandbox was started with 2,500 extra accounts).
  const all = await conn.query('SELECT Id, Name FROM Account').run({ autoFetch: true, maxFetch: 10000 });
  const ids = new Set(all.records.map((r) => r.Id));
  check('autoFetch pages through nextRecordsUrl', all.totalSize > 2500 && all.records.length === all.totalSize && ids.size === all.totalSize,
    { totalSize: all.totalSize, fetched: all.records.length });

  // 7. Errors arrive as jsforce errors with Salesforce's codes.
  try {
    await conn.query('SELECT Nope__c FROM Account');
    check('invalid field is refused', false);
  } catch (err) {
    check('invalid field is refused', err.errorCode === 'INVALID_FIELD', err.errorCode);
  }

  // 8. Limits: jsforce reads Sforce-Limit-Info.
  check('Sforce-Limit-Info is parsed', conn.limitInfo && conn.limitInfo.apiUsage && conn.limitInfo.apiUsage.used > 0, conn.limitInfo);
}

try {
  await main();
} catch (err) {
  failed += 1;
  console.log(`FAIL unexpected error: ${err && err.stack ? err.stack : err}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
