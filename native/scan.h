/*
 * libnsxscan's calls (native/scan.c), as native/scan.ts binds them through
 * koffi and test/integration/scan-stress.c calls them under the sanitizers.
 */
#ifndef NSX_SCAN_H
#define NSX_SCAN_H

#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int nsx_open_dirs(const int32_t *pids, int32_t n, int32_t *dirs);
EXPORT int nsx_stats(const int32_t *dirs, int32_t n, uint8_t *buf, uint32_t size, int32_t *spans, int32_t *uids);
EXPORT int nsx_ns_links(const int32_t *dirs, int32_t n, const char *const *links, int32_t nlinks, uint32_t *inodes);
EXPORT int nsx_fd_links(const int32_t *dirs, int32_t n, const char *const *types, int32_t ntypes, int32_t per_process,
			int32_t once_spent, int32_t *left, int32_t *state, uint32_t *nsfds, int32_t cap,
			int32_t *count);

#endif
