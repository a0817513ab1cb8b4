/*
 * A pcap of in-band DTMF for SIPp, shared by the call tests that send tones instead of RFC 4733
 * events (test_sip_dtmf.c, test_sip_ivr.c). Included after call_harness.h (PCAP) and
 * <spandsp.h>.
 */
#ifndef BLEND_TESTS_UNIT_SIP_INBAND_PCAP_H
#define BLEND_TESTS_UNIT_SIP_INBAND_PCAP_H

/* Writes dir/inband.pcap: the first `packets` packets of SIPp's A-law pcap (30 ms, 240 bytes of
 * payload each) with their payloads replaced by spandsp's DTMF tones for digits (100 ms on,
 * 100 ms off), then silence. */
static inline void write_inband_pcap(const char *dir, const char *digits, int packets)
{
    enum { GLOBAL_HDR = 24, REC_HDR = 16, L2_L4 = 42, RTP_HDR = 12, SAMPLES = 240 };
    FILE *in = fopen(PCAP, "rb");
    assert_non_null(in);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    assert_true(len > GLOBAL_HDR && len < sizeof(buf));
    dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
    assert_non_null(tx);
    dtmf_tx_set_timing(tx, 100, 100);
    assert_int_equal(dtmf_tx_put(tx, digits, -1), 0);
    size_t off = GLOBAL_HDR;
    for (int i = 0; i < packets; i++) {
        assert_true(off + REC_HDR <= len);
        uint32_t incl;
        memcpy(&incl, &buf[off + 8], 4); /* the capture's own byte order (little-endian) */
        assert_int_equal(incl, L2_L4 + RTP_HDR + SAMPLES);
        int16_t pcm[SAMPLES] = {0};
        (void)dtmf_tx(tx, pcm, SAMPLES);
        uint8_t *payload = &buf[off + REC_HDR + L2_L4 + RTP_HDR];
        assert_int_equal(buf[off + REC_HDR + L2_L4 + 1] & 0x7f, 8); /* PCMA */
        for (int k = 0; k < SAMPLES; k++) {
            payload[k] = linear_to_alaw(pcm[k]);
        }
        off += REC_HDR + incl;
    }
    dtmf_tx_free(tx);
    char path[160];
    snprintf(path, sizeof(path), "%s/inband.pcap", dir);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, off, out), off);
    assert_int_equal(fclose(out), 0);
}

#endif
