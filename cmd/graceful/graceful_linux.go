package graceful

import (
	"net"

	"golang.org/x/sys/unix"
)

// dropNewConnections attaches a socket filter to a listening socket that drops every
// SYN without ACK: the kernel starts no new connection on it, while the handshakes
// already under way complete. The client of a dropped SYN sends it again about a second
// later; the port is closed by then, so it is refused (or another server takes it).
func dropNewConnections(ln *net.TCPListener) {
	// Classic BPF over the TCP header (a TCP socket's filter sees the segment from it).
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 13},                  // the flags byte
		{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: 0x12},               // SYN|ACK
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0x02, Jt: 0, Jf: 1}, // SYN alone?
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                 // drop
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},                        // keep
	}
	rc, err := ln.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	})
}

// acceptQueueLen is the number of connections the kernel has completed and nobody has
// accepted yet (TCP_INFO of a listening socket says so in tcpi_unacked).
func acceptQueueLen(ln *net.TCPListener) int {
	rc, err := ln.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	_ = rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = int(info.Unacked)
		}
	})
	return n
}
