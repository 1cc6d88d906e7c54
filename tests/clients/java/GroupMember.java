// A consumer group member for the group tests: subscribes, reports its
// assignment changes and the records it processes on stdout, commits
// synchronously after each poll (and before giving partitions up), and
// leaves the group when stdin says "close" or ends.
//
//   java -cp <kafka-clients>:<dir> GroupMember <bootstrap> <topic> <group> [config=value ...]
//
// Output lines: "ASSIGNED <ms> <p,...>", "REVOKED <ms> <p,...>", "LOST <ms> <p,...>",
// "RECORD <partition> <offset> <value>", "COMMITTED", "CLOSED".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupMember {
    private static final Map<TopicPartition, OffsetAndMetadata> processed = new HashMap<>();

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            props.put(kv[0], kv[1]);
        }
        AtomicBoolean closing = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("close")) { }
            } catch (Exception ignored) { }
            closing.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(Collections.singletonList(args[1]), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    commit(consumer);
                    report("REVOKED", partitions);
                }
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    report("ASSIGNED", partitions);
                }
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    report("LOST", partitions);
                }
            });
            while (!closing.get()) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> record : records) {
                    processed.put(new TopicPartition(record.topic(), record.partition()),
                                  new OffsetAndMetadata(record.offset() + 1));
                    System.out.println("RECORD " + record.partition() + " " + record.offset() + " " + record.value());
                }
                if (!records.isEmpty()) {
                    commit(consumer);
                }
                System.out.flush();
            }
        }
        System.out.println("CLOSED");
        System.out.flush();
    }

    private static void commit(KafkaConsumer<String, String> consumer) {
        if (processed.isEmpty()) {
            return;
        }
        consumer.commitSync(processed);
        processed.clear();
        System.out.println("COMMITTED");
    }

    private static void report(String event, Collection<TopicPartition> partitions) {
        String list = partitions.stream().map(tp -> Integer.toString(tp.partition())).sorted()
            .collect(Collectors.joining(","));
        System.out.println(event + " " + System.currentTimeMillis() + " " + list);
        System.out.flush();
    }
}
