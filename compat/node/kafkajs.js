// kafkajs through the compatibility matrix's scenarios (compat/matrix/node_clients.py):
//
//   node kafkajs.js create-topic|delete-topic|list-topics|produce|consume \
//        --bootstrap B --topic T [--group G] [--count N] [--partitions 3] [--timeout 60]
//
// Records are key-<i> / value-<i> with a header client=kafkajs. consume joins the
// group, reads from the earliest offset until it has N records, prints each as a
// JSON line, commits and leaves. Failures exit 1 with the client's error on stderr.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

function parse(argv) {
  const options = { bootstrap: '127.0.0.1:9092', count: 10, partitions: 3, timeout: 60 }
  for (let i = 0; i < argv.length; i += 2) {
    options[argv[i].replace(/^--/, '')] = argv[i + 1]
  }
  options.count = Number(options.count)
  options.partitions = Number(options.partitions)
  options.timeout = Number(options.timeout)
  return options
}

async function createTopic(kafka, o) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({ topics: [{ topic: o.topic, numPartitions: o.partitions }], waitForLeaders: true })
    if (!created) throw new Error(`topic ${o.topic} already exists`)
  } finally {
    await admin.disconnect()
  }
}

async function deleteTopic(kafka, o) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.deleteTopics({ topics: [o.topic] })
  } finally {
    await admin.disconnect()
  }
}

async function listTopics(kafka) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    for (const topic of await admin.listTopics()) console.log(topic)
  } finally {
    await admin.disconnect()
  }
}

async function produce(kafka, o) {
  const producer = kafka.producer()
  await producer.connect()
  try {
    const messages = Array.from({ length: o.count }, (_, i) => ({
      key: `key-${i}`, value: `value-${i}`, headers: { client: 'kafkajs' },
    }))
    await producer.send({ topic: o.topic, messages })
  } finally {
    await producer.disconnect()
  }
}

async function consume(kafka, o) {
  const consumer = kafka.consumer({ groupId: o.group })
  await consumer.connect()
  let seen = 0
  let finish
  const done = new Promise((resolve) => { finish = resolve })
  try {
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (seen >= o.count) return
        const headers = {}
        for (const [name, value] of Object.entries(message.headers || {})) headers[name] = value.toString()
        console.log(JSON.stringify({
          topic, partition, offset: Number(message.offset),
          key: message.key && message.key.toString(), value: message.value && message.value.toString(), headers,
        }))
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
        seen += 1
        if (seen === o.count) finish()
      },
    })
    await done
  } finally {
    await consumer.disconnect()
  }
}

async function main() {
  const [op, ...rest] = process.argv.slice(2)
  const o = parse(rest)
  const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [o.bootstrap], logLevel: logLevel.ERROR })
  const operations = { 'create-topic': createTopic, 'delete-topic': deleteTopic, 'list-topics': listTopics, produce, consume }
  if (!operations[op]) throw new Error(`unknown operation ${op}`)
  const deadline = setTimeout(() => {
    console.error(`error: not done within ${o.timeout}s`)
    process.exit(1)
  }, o.timeout * 1000)
  await operations[op](kafka, o)
  clearTimeout(deadline)
}

main().catch((error) => {
  console.error('error:', error && error.stack || error)
  process.exit(1)
})
