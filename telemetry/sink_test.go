package telemetry_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// sinkEnv, when set, makes the test binary an OTLP trace sink instead of running tests.
const sinkEnv = "ARTICLESD_TEST_OTLP_SINK"

// sink accepts and drops spans.
type sink struct {
	coltracepb.UnimplementedTraceServiceServer
}

func (sink) Export(context.Context, *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// serveSink runs the sink: it prints its address, then serves until its input closes.
func serveSink() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, sink{})
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startSink starts an OTLP trace sink in a process of its own and returns its address.
// Benchmarks export to it rather than to the in-process receiver: a collector (Tempo)
// runs outside the service, and decoding and keeping the spans in the benchmark's own
// process added their work and their garbage to the requests measured.
func startSink(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), sinkEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the OTLP sink did not start: %v", err)
	}
	return strings.TrimSpace(addr)
}
