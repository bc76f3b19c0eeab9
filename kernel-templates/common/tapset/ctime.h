/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctime(): seconds since the epoch as "Wed Jun 30 21:49:08 1993", broken
 * down by the kernel's own time64_to_tm().
 */

#include <linux/time.h>

static __maybe_unused const char *stp_ctime(struct stp_context *c, char *buf, s64 secs)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	buf[0] = '\0';
	/* SystemTap's range: what 32 bits of seconds hold, 24 characters always */
	if (secs > S32_MAX) {
		stp_error(c, "ctime: time too far in the future to be converted");
		return buf;
	}
	if (secs < S32_MIN) {
		stp_error(c, "ctime: time too far in the past to be converted");
		return buf;
	}
	time64_to_tm(secs, 0, &tm);
	snprintf(buf, MAXSTRINGLEN, "%s %s %2d %02d:%02d:%02d %ld", days[tm.tm_wday],
		 months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
	return buf;
}
