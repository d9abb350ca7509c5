//go:build !linux

package graceful

import "net"

// dropNewConnections does nothing here: the listener keeps completing handshakes until
// it is closed.
func dropNewConnections(*net.TCPListener) {}

// acceptQueueLen is not known here.
func acceptQueueLen(*net.TCPListener) int { return 0 }
