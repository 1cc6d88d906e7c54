// Exactly-once checks with the Java client, run as a single source file:
//   java -cp <kafka-clients classpath> ExactlyOnce.java <bootstrap> <scenario> <topic>
// It prints what a user would look at; the Python test compares it.
//   idempotent     send 50 records with the default (idempotent) producer, print their offsets
//   transactions   commit 10 records, abort 10, commit 1; print what read_committed and
//                  read_uncommitted consumers see
//   fencing        a second producer with the same transactional.id fences the first
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ExactlyOnce {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], scenario = args[1], topic = args[2];
        switch (scenario) {
            case "idempotent": idempotent(bootstrap, topic); break;
            case "transactions": transactions(bootstrap, topic); break;
            case "fencing": fencing(bootstrap, topic); break;
            default: throw new IllegalArgumentException(scenario);
        }
    }

    static Properties producerProps(String bootstrap) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return p;
    }

    static void idempotent(String bootstrap, String topic) throws Exception {
        Properties p = producerProps(bootstrap);
        p.put("request.timeout.ms", "1500");
        p.put("delivery.timeout.ms", "60000");
        p.put("retry.backoff.ms", "50");
        p.put("linger.ms", "5");
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < 50; i++) sent.add(producer.send(new ProducerRecord<>(topic, 0, null, "r" + i)));
            producer.flush();
            List<String> offsets = new ArrayList<>();
            for (Future<RecordMetadata> f : sent) offsets.add(Long.toString(f.get().offset()));
            System.out.println("offsets " + String.join(",", offsets));
        }
    }

    static KafkaProducer<String, String> transactional(String bootstrap, String id) {
        Properties p = producerProps(bootstrap);
        p.put("transactional.id", id);
        KafkaProducer<String, String> producer = new KafkaProducer<>(p);
        producer.initTransactions();
        return producer;
    }

    static void transactions(String bootstrap, String topic) {
        try (KafkaProducer<String, String> producer = transactional(bootstrap, "java-tx")) {
            producer.beginTransaction();
            for (int i = 0; i < 10; i++) producer.send(new ProducerRecord<>(topic, i % 2, null, "committed-" + i));
            producer.commitTransaction();
            producer.beginTransaction();
            for (int i = 0; i < 10; i++) producer.send(new ProducerRecord<>(topic, i % 2, null, "aborted-" + i));
            producer.flush();
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, 0, null, "last"));
            producer.commitTransaction();
        }
        System.out.println("read_committed " + read(bootstrap, topic, "read_committed"));
        System.out.println("read_uncommitted " + read(bootstrap, topic, "read_uncommitted"));
    }

    static void fencing(String bootstrap, String topic) {
        KafkaProducer<String, String> first = transactional(bootstrap, "java-shared");
        first.beginTransaction();
        first.send(new ProducerRecord<>(topic, 0, null, "zombie"));
        first.flush();
        try (KafkaProducer<String, String> second = transactional(bootstrap, "java-shared")) {
            second.beginTransaction();
            second.send(new ProducerRecord<>(topic, 0, null, "winner"));
            second.commitTransaction();
        }
        try {
            first.commitTransaction();
            System.out.println("first committed");
        } catch (KafkaException e) {
            System.out.println("first failed " + e.getClass().getSimpleName());
        } finally {
            first.close(Duration.ZERO);
        }
        System.out.println("read_committed " + read(bootstrap, topic, "read_committed"));
    }

    /** Sorted values of every partition from the start to the end offsets the isolation level sees. */
    static String read(String bootstrap, String topic, String isolation) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", isolation);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map(i -> new TopicPartition(topic, i.partition())).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.currentTimeMillis() + 30_000;
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("stuck below " + ends);
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) values.add(r.value());
            }
        }
        values.sort(null);
        return String.join(",", values);
    }
}
