package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
)

type saramaClient struct{}

// config is sarama's default but for the return of successes that SyncProducer
// requires and a start at the earliest offset for a new group.
func config(clientID string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = clientID
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

func (saramaClient) createTopic(ctx context.Context, o options) error {
	admin, err := sarama.NewClusterAdmin([]string{o.bootstrap}, config("compat-sarama"))
	if err != nil {
		return err
	}
	defer admin.Close()
	return admin.CreateTopic(o.topic, &sarama.TopicDetail{NumPartitions: int32(o.partitions), ReplicationFactor: -1}, false)
}

func (saramaClient) deleteTopic(ctx context.Context, o options) error {
	admin, err := sarama.NewClusterAdmin([]string{o.bootstrap}, config("compat-sarama"))
	if err != nil {
		return err
	}
	defer admin.Close()
	return admin.DeleteTopic(o.topic)
}

func (saramaClient) listTopics(ctx context.Context, o options) ([]string, error) {
	admin, err := sarama.NewClusterAdmin([]string{o.bootstrap}, config("compat-sarama"))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	return names, nil
}

func (saramaClient) produce(ctx context.Context, o options) error {
	producer, err := sarama.NewSyncProducer([]string{o.bootstrap}, config("compat-sarama"))
	if err != nil {
		return err
	}
	defer producer.Close()
	messages := make([]*sarama.ProducerMessage, o.count)
	for i := range messages {
		messages[i] = &sarama.ProducerMessage{Topic: o.topic, Key: sarama.StringEncoder(key(i)),
			Value: sarama.StringEncoder(value(i)),
			Headers: []sarama.RecordHeader{{Key: []byte("client"), Value: []byte("sarama")}}}
	}
	return producer.SendMessages(messages)
}

// handler hands every claimed message to out, marks it, and commits and ends
// the session once count messages have been seen. Each claim (partition) runs
// in its own goroutine, hence the lock.
type handler struct {
	lock   sync.Mutex
	out    func(record)
	count  int
	seen   int
	cancel context.CancelFunc
}

func (*handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			headers := map[string]string{}
			for _, header := range m.Headers {
				headers[string(header.Key)] = string(header.Value)
			}
			session.MarkMessage(m, "")
			h.lock.Lock()
			h.out(record{m.Topic, m.Partition, m.Offset, string(m.Key), string(m.Value), headers})
			h.seen++
			if h.seen == h.count {
				session.Commit()
				h.cancel()
			}
			h.lock.Unlock()
		case <-session.Context().Done():
			return nil
		}
	}
}

func (saramaClient) consume(ctx context.Context, o options, out func(record)) error {
	group, err := sarama.NewConsumerGroup([]string{o.bootstrap}, o.group, config("compat-sarama"))
	if err != nil {
		return err
	}
	defer group.Close() // commits what was marked and leaves the group
	sessionCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &handler{out: out, count: o.count, cancel: cancel}
	for sessionCtx.Err() == nil {
		if err := group.Consume(sessionCtx, []string{o.topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return err
		}
	}
	h.lock.Lock()
	defer h.lock.Unlock()
	if h.seen < o.count {
		return fmt.Errorf("%d of %d records before the deadline: %w", h.seen, o.count, ctx.Err())
	}
	return nil
}
