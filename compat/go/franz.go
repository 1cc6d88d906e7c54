package main

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type franz struct{}

func (franz) client(o options, extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(o.bootstrap)}, extra...)...)
}

func (f franz) admin(o options) (*kadm.Client, error) {
	cl, err := f.client(o)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

func (f franz) createTopic(ctx context.Context, o options) error {
	adm, err := f.admin(o)
	if err != nil {
		return err
	}
	defer adm.Close()
	// -1: the broker's default.replication.factor.
	result, err := adm.CreateTopic(ctx, int32(o.partitions), -1, nil, o.topic)
	if err != nil {
		return err
	}
	return result.Err
}

func (f franz) deleteTopic(ctx context.Context, o options) error {
	adm, err := f.admin(o)
	if err != nil {
		return err
	}
	defer adm.Close()
	results, err := adm.DeleteTopics(ctx, o.topic)
	if err != nil {
		return err
	}
	return results.Error()
}

func (f franz) listTopics(ctx context.Context, o options) ([]string, error) {
	adm, err := f.admin(o)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return topics.Names(), topics.Error()
}

func (f franz) produce(ctx context.Context, o options) error {
	cl, err := f.client(o, kgo.DefaultProduceTopic(o.topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	records := make([]*kgo.Record, o.count)
	for i := range records {
		records[i] = &kgo.Record{Key: []byte(key(i)), Value: []byte(value(i)),
			Headers: []kgo.RecordHeader{{Key: "client", Value: []byte("franz-go")}}}
	}
	return cl.ProduceSync(ctx, records...).FirstErr()
}

func (f franz) consume(ctx context.Context, o options, out func(record)) error {
	cl, err := f.client(o, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(o.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		return err
	}
	defer cl.Close() // leaves the group
	seen := 0
	for seen < o.count {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d records before the deadline: %w", seen, o.count, ctx.Err())
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch %s[%d]: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			headers := map[string]string{}
			for _, h := range r.Headers {
				headers[h.Key] = string(h.Value)
			}
			out(record{r.Topic, r.Partition, r.Offset, string(r.Key), string(r.Value), headers})
			seen++
		})
	}
	return cl.CommitUncommittedOffsets(ctx)
}
