package fakeinubit

import (
	"fmt"
	"net"
)

// ListenLoopback listens on addr (host:port), whose host must be a
// loopback IP: the emulator and the commands around it are never
// reachable from another machine.
func ListenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("address %q: only loopback IPs (127.0.0.1, ::1) are allowed", addr)
	}
	return net.Listen("tcp", addr)
}
