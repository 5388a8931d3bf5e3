// Small helpers shared by server.mjs and loadgen.mjs: flags, Go durations, loopback addresses.

// parseArgs reads --name value and --name=value pairs (and bare --flag as "true") over defaults;
// an unknown name is an error, so a typo does not silently run the defaults.
export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    a = a.slice(2);
    let v;
    const eq = a.indexOf("=");
    if (eq >= 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      v = argv[++i];
    } else {
      v = "true";
    }
    if (!(a in defaults)) throw new Error(`unknown flag --${a} (known: ${Object.keys(defaults).join(", ")})`);
    out[a] = v;
  }
  return out;
}

const units = { h: 3600e3, m: 60e3, s: 1e3, ms: 1, us: 1e-3, "µs": 1e-3, ns: 1e-6 };

// parseGoDuration turns Go's time.Duration.String() ("2m27s", "1h0m0s", "1.5s", "300ms") into ms.
export function parseGoDuration(s) {
  const re = /([0-9.]+)(h|ms|m|s|us|µs|ns)/g;
  let ms = 0, seen = 0, m;
  while ((m = re.exec(s)) !== null) {
    ms += Number(m[1]) * units[m[2]];
    seen += m[0].length;
  }
  if (seen !== s.length || !(ms > 0)) throw new Error(`bad duration ${JSON.stringify(s)}`);
  return ms;
}

// loopbackAddr splits host:port and refuses anything but a loopback host.
export function loopbackAddr(addr) {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i), port = Number(addr.slice(i + 1));
  if (!(host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host)) || !(port > 0)) {
    throw new Error(`address ${addr}: loopback host:port only`);
  }
  return { host, port };
}
