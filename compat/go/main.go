// compatgo drives two stock Go Kafka clients, franz-go and sarama, through the
// compatibility matrix's scenarios (compat/matrix/go_clients.py):
//
//	compatgo <franz|sarama> create-topic -bootstrap B -topic T [-partitions 3]
//	compatgo <franz|sarama> delete-topic|list-topics -bootstrap B [-topic T]
//	compatgo <franz|sarama> produce -bootstrap B -topic T -count N
//	compatgo <franz|sarama> consume -bootstrap B -topic T -group G -count N
//
// Records are key-<i> / value-<i> with a header client=<name>. consume joins the
// group, reads from the earliest offset until it has N records, prints each as a
// JSON line, commits and leaves. Failures exit 1 with the client's error on stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

type options struct {
	bootstrap  string
	topic      string
	group      string
	count      int
	partitions int
	timeout    time.Duration
}

// record is what consume prints, one JSON object a line.
type record struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers"`
}

type client interface {
	createTopic(ctx context.Context, o options) error
	deleteTopic(ctx context.Context, o options) error
	listTopics(ctx context.Context, o options) ([]string, error)
	produce(ctx context.Context, o options) error
	consume(ctx context.Context, o options, out func(record)) error
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: compatgo <franz|sarama> <create-topic|delete-topic|list-topics|produce|consume> [flags]")
		os.Exit(2)
	}
	name, op := os.Args[1], os.Args[2]
	var o options
	flags := flag.NewFlagSet(op, flag.ExitOnError)
	flags.StringVar(&o.bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap server")
	flags.StringVar(&o.topic, "topic", "", "topic")
	flags.StringVar(&o.group, "group", "", "consumer group")
	flags.IntVar(&o.count, "count", 10, "records to produce or consume")
	flags.IntVar(&o.partitions, "partitions", 3, "partitions of a created topic")
	flags.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up after")
	flags.Parse(os.Args[3:])

	var c client
	switch name {
	case "franz":
		c = franz{}
	case "sarama":
		c = saramaClient{}
	default:
		fail(fmt.Errorf("unknown client %q", name))
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	var err error
	switch op {
	case "create-topic":
		err = c.createTopic(ctx, o)
	case "delete-topic":
		err = c.deleteTopic(ctx, o)
	case "list-topics":
		var topics []string
		if topics, err = c.listTopics(ctx, o); err == nil {
			for _, t := range topics {
				fmt.Println(t)
			}
		}
	case "produce":
		err = c.produce(ctx, o)
	case "consume":
		encoder := json.NewEncoder(os.Stdout)
		err = c.consume(ctx, o, func(r record) { encoder.Encode(r) })
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

func key(i int) string   { return fmt.Sprintf("key-%d", i) }
func value(i int) string { return fmt.Sprintf("value-%d", i) }
