// Preloaded with `node --require`: every *.localhost name resolves to 127.0.0.1, as a
// wildcard DNS record (*.moderation.example.org) would, without changing the client.
const dns = require('dns')

const lookup = dns.lookup
dns.lookup = function (hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  if (typeof hostname === 'string' && hostname.endsWith('.localhost')) {
    const all = typeof options === 'object' && options !== null && options.all
    return process.nextTick(() =>
      all
        ? callback(null, [{ address: '127.0.0.1', family: 4 }])
        : callback(null, '127.0.0.1', 4)
    )
  }
  return lookup.call(this, hostname, options, callback)
}
