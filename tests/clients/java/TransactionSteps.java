// A transactional producer driven line by line from standard input, so that a
// test can act on the cluster between transactions:
//   java -cp <kafka-clients classpath> TransactionSteps.java <bootstrap> <topic> <transactional.id> <partitions>
// Commands: "commit A B" sends the integers A..B-1 (value i to partition
// i % partitions) in one transaction and commits it; "abort V" sends V and
// aborts. It prints "ready" once initialised and "ok" after each command.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class TransactionSteps {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], id = args[2];
        int partitions = Integer.parseInt(args[3]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("transactional.id", id);
        p.put("transaction.timeout.ms", "60000");
        p.put("delivery.timeout.ms", "120000");
        p.put("max.block.ms", "120000");
        p.put("metadata.max.age.ms", "1000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            System.out.println("ready");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            for (String line; (line = in.readLine()) != null; ) {
                String[] command = line.trim().split(" ");
                producer.beginTransaction();
                if (command[0].equals("commit")) {
                    for (int i = Integer.parseInt(command[1]); i < Integer.parseInt(command[2]); i++)
                        producer.send(new ProducerRecord<>(topic, i % partitions, null, Integer.toString(i)));
                    producer.commitTransaction();
                } else {
                    producer.send(new ProducerRecord<>(topic, 0, null, command[1]));
                    producer.flush();
                    producer.abortTransaction();
                }
                System.out.println("ok");
            }
        }
    }
}
