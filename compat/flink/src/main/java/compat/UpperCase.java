package compat;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * KafkaSource reading a topic from its earliest to its latest offset (a bounded
 * job), upper-casing each value, KafkaSink writing another topic; run in the
 * local mini-cluster that getExecutionEnvironment() starts in this JVM.
 *
 * <pre>UpperCase bootstrap input output group [at-least-once|exactly-once]</pre>
 *
 * exactly-once writes through Kafka transactions, committed at checkpoints
 * (and at the final checkpoint when the bounded source ends).
 */
public final class UpperCase {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: UpperCase bootstrap input output group [at-least-once|exactly-once]");
            System.exit(2);
        }
        String bootstrap = args[0];
        boolean exactlyOnce = args.length > 4 && args[4].equals("exactly-once");

        // A failure ends the job (and this program, non-zero) instead of restarting it.
        Configuration configuration = new Configuration();
        configuration.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(configuration);
        env.setParallelism(1);
        if (exactlyOnce) {
            env.enableCheckpointing(1000);
        }
        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(args[1])
                .setGroupId(args[3])
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .build();
        KafkaSink<String> sink = KafkaSink.<String>builder()
                .setBootstrapServers(bootstrap)
                .setRecordSerializer(KafkaRecordSerializationSchema.builder()
                        .setTopic(args[2])
                        .setValueSerializationSchema(new SimpleStringSchema())
                        .build())
                .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
                .setTransactionalIdPrefix(args[3])
                // The sink's 1 h default exceeds the broker's transaction.max.timeout.ms (15 min).
                .setProperty("transaction.timeout.ms", "60000")
                .build();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka-source")
                .map(String::toUpperCase)
                .sinkTo(sink);
        env.execute("upper-case " + args[1] + " -> " + args[2]);
    }
}
