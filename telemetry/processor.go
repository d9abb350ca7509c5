package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// boundedProcessor exports spans in batches from a bounded buffer. A request never waits
// for the collector: when the buffer is full the span is dropped and counted, and a
// failed export drops its batch (counted too). Ending a span only appends it under a
// mutex; the exporter wakes once a second, or early when a batch is full, so sampled
// requests do not pay for waking another goroutine. Shutdown exports what is buffered.
type boundedProcessor struct {
	exp     sdktrace.SpanExporter
	size    int
	dropped func(int)
	log     *slog.Logger

	mu      sync.Mutex
	spans   []sdktrace.ReadOnlySpan
	full    chan struct{} // a batch is ready: wake the exporter early
	flush   chan chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once

	lastFailure time.Time // guarded by mu
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
		exp: exp, size: size, dropped: dropped, log: log,
		full: make(chan struct{}, 1), flush: make(chan chan struct{}),
		done: make(chan struct{}), stopped: make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *boundedProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *boundedProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	p.mu.Lock()
	if len(p.spans) >= p.size {
		p.mu.Unlock()
		p.dropped(1)
		return
	}
	p.spans = append(p.spans, s)
	ready := len(p.spans) == exportBatch
	p.mu.Unlock()
	if ready {
		select {
		case p.full <- struct{}{}:
		default:
		}
	}
}

// take removes and returns everything buffered.
func (p *boundedProcessor) take() []sdktrace.ReadOnlySpan {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.spans
	p.spans = nil
	return out
}

func (p *boundedProcessor) run() {
	defer close(p.stopped)
	tick := time.NewTicker(exportInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.export(p.take())
		case <-p.full:
			p.export(p.take())
		case ack := <-p.flush:
			p.export(p.take())
			close(ack)
		case <-p.done:
			p.export(p.take())
			return
		}
	}
}

// export sends spans to the collector in batches.
func (p *boundedProcessor) export(spans []sdktrace.ReadOnlySpan) {
	for len(spans) > 0 {
		n := min(len(spans), exportBatch)
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		err := p.exp.ExportSpans(ctx, spans[:n])
		cancel()
		if err != nil {
			p.dropped(n)
			p.reportFailure(err)
		}
		spans = spans[n:]
	}
}

// reportFailure logs a failed export at most once a minute.
func (p *boundedProcessor) reportFailure(err error) {
	p.mu.Lock()
	quiet := time.Since(p.lastFailure) < time.Minute
	if !quiet {
		p.lastFailure = time.Now()
	}
	p.mu.Unlock()
	if !quiet {
		p.log.Warn("trace export failed; spans dropped", "err", err)
	}
}

func (p *boundedProcessor) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case p.flush <- ack:
	case <-p.stopped:
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
	select {
	case <-p.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.exp.Shutdown(ctx)
}
