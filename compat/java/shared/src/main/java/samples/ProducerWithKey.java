package samples;

import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class ProducerWithKey {
    public static void main(String[] args) {
        Properties configs = new Properties();
        // -Dbootstrap.servers=host:port points the sample at another broker.
        configs.put("bootstrap.servers", System.getProperty("bootstrap.servers", "localhost:9092"));
        configs.put("key.serializer", StringSerializer.class.getName());
        configs.put("value.serializer", StringSerializer.class.getName());

        KafkaProducer<String, String> producer = new KafkaProducer<>(configs);
        ProducerRecord<String, String> record = new ProducerRecord<>("click_log", "1", "login");
        producer.send(record);
        producer.close();
    }
}
