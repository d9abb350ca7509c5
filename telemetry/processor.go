package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// boundedProcessor exports spans in batches from a bounded queue. A request never waits
// for the collector: when the queue is full the span is dropped and counted, and a
// failed export drops its batch (counted too). Shutdown exports what is queued.
type boundedProcessor struct {
	exp     sdktrace.SpanExporter
	queue   chan sdktrace.ReadOnlySpan
	flush   chan chan struct{}
	done    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once
	dropped func(int)
	log     *slog.Logger

	mu          sync.Mutex
	lastFailure time.Time
}

const (
	defaultSpanQueue = 4096
	exportBatch      = 512
	exportInterval   = time.Second
)

func newBoundedProcessor(exp sdktrace.SpanExporter, size int, dropped func(int), log *slog.Logger) *boundedProcessor {
	if size <= 0 {
		size = defaultSpanQueue
	}
	if dropped == nil {
		dropped = func(int) {}
	}
	p := &boundedProcessor{
		exp: exp, queue: make(chan sdktrace.ReadOnlySpan, size),
		flush: make(chan chan struct{}), done: make(chan struct{}),
		dropped: dropped, log: log,
	}
	p.stopped.Add(1)
	go p.run()
	return p
}

func (p *boundedProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *boundedProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	select {
	case p.queue <- s:
	default:
		p.dropped(1)
	}
}

func (p *boundedProcessor) run() {
	defer p.stopped.Done()
	tick := time.NewTicker(exportInterval)
	defer tick.Stop()
	batch := make([]sdktrace.ReadOnlySpan, 0, exportBatch)
	send := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		err := p.exp.ExportSpans(ctx, batch)
		cancel()
		if err != nil {
			p.dropped(len(batch))
			p.reportFailure(err)
		}
		batch = batch[:0]
	}
	take := func(s sdktrace.ReadOnlySpan) {
		batch = append(batch, s)
		if len(batch) == exportBatch {
			send()
		}
	}
	drain := func() {
		for {
			select {
			case s := <-p.queue:
				take(s)
			default:
				send()
				return
			}
		}
	}
	for {
		select {
		case s := <-p.queue:
			take(s)
		case <-tick.C:
			send()
		case ack := <-p.flush:
			drain()
			close(ack)
		case <-p.done:
			drain()
			return
		}
	}
}

// reportFailure logs a failed export at most once a minute.
func (p *boundedProcessor) reportFailure(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastFailure) < time.Minute {
		return
	}
	p.lastFailure = time.Now()
	p.log.Warn("trace export failed; spans dropped", "err", err)
}

func (p *boundedProcessor) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case p.flush <- ack:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *boundedProcessor) Shutdown(ctx context.Context) error {
	p.once.Do(func() { close(p.done) })
	finished := make(chan struct{})
	go func() { p.stopped.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.exp.Shutdown(ctx)
}
