/* A stand-in for bcryptprimitives.dll, for tests under Debian 12's Wine 8
 * only (real Windows 10+ ships the DLL; so does Wine 9+). Rust's std
 * (1.78+) takes its random bytes from ProcessPrng; this one forwards to
 * advapi32's RtlGenRandom (SystemFunction036), which Wine 8 has. Built by
 * scripts/windows.sh into the test Wine prefix, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
