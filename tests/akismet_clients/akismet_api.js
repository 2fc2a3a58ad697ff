// Drive the npm akismet-api client, unchanged, against the service: every public call.
// Usage: node --require ./wildcard_dns.js akismet_api.js HOST KEY BLOG
// Prints one JSON object of results; errors of a call are recorded as {"error": message}.
const { AkismetClient } = require('akismet-api')

const [host, key, blog] = process.argv.slice(2)
const options = { key, blog, host, protocol: 'http' }
const client = new AkismetClient(options)
const wrong = new AkismetClient({ ...options, key: '000000000000' })

const comment = {
  ip: '203.0.113.21',
  useragent: 'Mozilla/5.0 (X11; Linux x86_64)',
  referrer: 'https://blog.example.org/',
  permalink: 'https://blog.example.org/hello-world/',
  type: 'comment',
  name: 'Ada Lovelace',
  email: 'ada@example.org',
  url: 'ada.example.org',
  content: 'An argued comment, with a source: the second example is wrong.'
}

async function attempt(call) {
  try {
    return await call()
  } catch (error) {
    return { error: error.message }
  }
}

async function main() {
  const results = {}
  results.verifyKey = await attempt(() => client.verifyKey())
  results.verifyWrongKey = await attempt(() => wrong.verifyKey())
  results.checkSpam = await attempt(() => client.checkSpam(comment))
  results.checkAgain = await attempt(() => client.checkSpam(comment))
  results.checkWrongKey = await attempt(() => wrong.checkSpam(comment))
  results.testSpam = await attempt(() =>
    client.checkSpam({ ...comment, name: 'viagra-test-123', isTest: true })
  )
  results.testHam = await attempt(() =>
    client.checkSpam({ ...comment, role: 'administrator', isTest: true })
  )
  results.testCall = await attempt(() =>
    client.checkSpam({ ...comment, ip: '203.0.113.23', email: 'test@example.org', content: 'A test call only.', isTest: true })
  )
  results.honeypot = await attempt(() =>
    client.checkSpam({ ...comment, ip: '203.0.113.22', email: 'second@example.org', content: 'Second.', honeypot: '' })
  )
  results.submitSpam = await attempt(async () => (await client.submitSpam(comment)).text)
  results.submitHam = await attempt(async () => (await client.submitHam(comment)).text)
  results.submitUnknown = await attempt(
    async () => (await client.submitSpam({ ...comment, content: 'Never checked.' })).text
  )
  results.callback = await new Promise((resolve) =>
    client.verifyKey((error, valid) => resolve(error ? { error: error.message } : valid))
  )
  process.stdout.write(JSON.stringify(results))
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error))
  process.exit(1)
})
