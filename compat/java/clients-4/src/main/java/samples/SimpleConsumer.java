package samples;

import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class SimpleConsumer {
    public static void main(String[] args) {
        Properties configs = new Properties();
        // -Dbootstrap.servers=host:port points the sample at another broker.
        configs.put("bootstrap.servers", System.getProperty("bootstrap.servers", "localhost:9092"));
        configs.put("group.id", "click_log_group");
        configs.put("key.deserializer", StringDeserializer.class.getName());
        configs.put("value.deserializer", StringDeserializer.class.getName());

        // Optional arguments, for tests: stop after this many records, or seconds.
        int maxRecords = args.length > 0 ? Integer.parseInt(args[0]) : Integer.MAX_VALUE;
        long deadline = args.length > 1 ? System.currentTimeMillis() + 1000L * Integer.parseInt(args[1]) : Long.MAX_VALUE;

        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(configs);
        consumer.subscribe(Arrays.asList("click_log"));
        int received = 0;
        while (received < maxRecords && System.currentTimeMillis() < deadline) {
            ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
            for (ConsumerRecord<String, String> record : records) {
                System.out.println(record.value());
                received++;
            }
        }
        consumer.close();
    }
}
