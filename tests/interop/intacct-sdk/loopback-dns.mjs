// Preloaded with `node --import ./loopback-dns.mjs`: makes `*.intacct.com` names resolve to
// 127.0.0.1 and refuses every other name except localhost, so the unmodified SDK (which only
// accepts *.intacct.com endpoints) reaches the local sandbox and nothing can reach the network.
import dns from "node:dns";

const LOOPBACK = "127.0.0.1";

function allowed(hostname) {
  const name = String(hostname).replace(/\.$/, "").toLowerCase();
  return name === "localhost" || name === LOOPBACK || name.endsWith(".intacct.com");
}

dns.lookup = function loopbackLookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  } else if (typeof options === "number") {
    options = { family: options };
  }
  if (!allowed(hostname)) {
    const err = new Error(`loopback-dns: refusing to resolve ${hostname} (only *.intacct.com and localhost, to 127.0.0.1)`);
    err.code = "ENOTFOUND";
    process.nextTick(callback, err);
    return;
  }
  if (options && options.all) {
    process.nextTick(callback, null, [{ address: LOOPBACK, family: 4 }]);
  } else {
    process.nextTick(callback, null, LOOPBACK, 4);
  }
};
