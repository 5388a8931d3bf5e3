package protocol

import "strconv"

// Names from the one table (Codes), for logs: "TIMEOUT", not 3.

func nameIn(entries []CodeEntry, v int) string {
	for _, e := range entries {
		if e.Value == v {
			return e.Name
		}
	}
	return strconv.Itoa(v)
}

// String is the reason's name (LEFT, DROPPED, …), or its number when unknown.
func (r LeaveReason) String() string { return nameIn(Codes().Leave, int(r)) }

// String is the reason's name (FINISHED, EMPTY, …), or its number when unknown.
func (r EndReason) String() string { return nameIn(Codes().End, int(r)) }

// String is the close code's name (SHUTDOWN, AUTH, …), or its number when unknown.
func (c CloseCode) String() string { return nameIn(Codes().Close, int(c)) }

// String is the error code's name (NOT_FOUND, …), or its number when unknown.
func (c ErrorCode) String() string { return nameIn(Codes().Errors, int(c)) }
