/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a netfilter.hook probe's handler reads ($hooknum, $skb, $indev_name,
 * ...) and may write under -g ($verdict): the hook's packet and state,
 * which probes/netfilter.h.j2 hands the handler.
 */
#include <linux/netfilter.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>

struct stp_nf_hit {
	struct sk_buff *skb;
	const struct nf_hook_state *state;
	unsigned int verdict;
};

static __maybe_unused s64 stp_nf_hooknum(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? h->state->hook : -1;
}

static __maybe_unused s64 stp_nf_pf(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? h->state->pf : -1;
}

static __maybe_unused s64 stp_nf_skb(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? (s64)(unsigned long)h->skb : 0;
}

static __maybe_unused s64 stp_nf_indev(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? (s64)(unsigned long)h->state->in : 0;
}

static __maybe_unused s64 stp_nf_outdev(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? (s64)(unsigned long)h->state->out : 0;
}

static __maybe_unused const char *stp_nf_indev_name(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h && h->state->in ? h->state->in->name : "";
}

static __maybe_unused const char *stp_nf_outdev_name(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h && h->state->out ? h->state->out->name : "";
}

static __maybe_unused s64 stp_nf_verdict(struct stp_context *c)
{
	const struct stp_nf_hit *h = c->family;

	return h ? h->verdict : NF_ACCEPT;
}

/* Only drop and accept: any other verdict would leave the packet to no one. */
static __maybe_unused void stp_nf_set_verdict(struct stp_context *c, s64 v)
{
	struct stp_nf_hit *h = c->family;

	if (v != NF_DROP && v != NF_ACCEPT) {
		stp_error(c, "$verdict takes 0 (NF_DROP) or 1 (NF_ACCEPT)");
		return;
	}
	if (h)
		h->verdict = v;
}
