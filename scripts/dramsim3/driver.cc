// Replays a DRAMsim3-format trace (`0xADDR READ|WRITE cycle`, one 64-byte transaction per
// line, sorted by cycle) into DRAMsim3 and prints one JSON object.
//
// Front end: one in-order FIFO per channel; every cycle, each channel's FIFO hands the
// controller as many arrived transactions as it accepts. This is the same front end as
// seedchip's detailed model (per-pseudo-channel input FIFOs), and unlike DRAMsim3's own
// TraceBasedCPU it is not limited to one transaction per cycle for the whole memory.
//
// Completion of a read: the cycle DRAMsim3 calls the read callback. Writes are posted in
// DRAMsim3 (their callback fires on acceptance), so the comparison measures time to the last
// read's data.
//
// Build (from scripts/dramsim3_compare.sh):
//   g++ -O2 -std=c++11 -I$DS/src -I$DS/ext/headers -I$DS/ext/fmt/include -DFMT_HEADER_ONLY=1 \
//       driver.cc -L$DS -ldramsim3 -Wl,-rpath,$DS -o driver
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "configuration.h"
#include "memory_system.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: driver CONFIG.ini TRACE OUT_DIR\n";
        return 2;
    }
    const std::string config = argv[1], trace_path = argv[2], out_dir = argv[3];

    std::vector<uint64_t> addr, arrival;
    std::vector<bool> write;
    {
        std::ifstream in(trace_path);
        if (!in) {
            std::cerr << "cannot read " << trace_path << "\n";
            return 2;
        }
        std::string a, op;
        uint64_t cycle;
        while (in >> a >> op >> cycle) {
            addr.push_back(std::stoull(a, nullptr, 16));
            write.push_back(op == "WRITE");
            arrival.push_back(cycle);
        }
    }
    const size_t n = addr.size();

    // Used only to find the channel of an address, with DRAMsim3's own mapping.
    dramsim3::Config cfg(config, out_dir);
    std::vector<std::deque<size_t>> fifo(cfg.channels);

    uint64_t clk = 0, reads = 0, reads_done = 0, last_read = 0;
    double latency_sum = 0;
    std::map<uint64_t, std::deque<size_t>> pending;  // address -> reads in flight, oldest first
    auto on_read = [&](uint64_t a) {
        auto it = pending.find(a);
        if (it == pending.end() || it->second.empty()) {
            std::cerr << "read callback for an unknown address\n";
            std::exit(1);
        }
        size_t i = it->second.front();
        it->second.pop_front();
        if (it->second.empty()) pending.erase(it);
        reads_done++;
        last_read = clk;
        latency_sum += double(clk - arrival[i]);
    };
    auto on_write = [&](uint64_t) {};
    dramsim3::MemorySystem mem(config, out_dir, on_read, on_write);

    for (size_t i = 0; i < n; i++)
        if (!write[i]) reads++;
    size_t next = 0, queued = 0;
    const auto start = std::chrono::steady_clock::now();
    while (reads_done < reads || next < n || queued > 0) {
        while (next < n && arrival[next] <= clk) {
            fifo[cfg.AddressMapping(addr[next]).channel].push_back(next);
            next++;
            queued++;
        }
        for (auto& f : fifo) {
            while (!f.empty() && mem.WillAcceptTransaction(addr[f.front()], write[f.front()])) {
                size_t i = f.front();
                f.pop_front();
                queued--;
                if (!write[i]) pending[addr[i]].push_back(i);
                mem.AddTransaction(addr[i], write[i]);
            }
        }
        mem.ClockTick();
        clk++;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // DRAMsim3's own statistics (OUT_DIR/dramsim3.json) when asked: DS3_STATS=1.
    if (std::getenv("DS3_STATS")) mem.PrintStats();
    std::printf(
        "{\"lines\": %zu, \"reads\": %llu, \"last_read_done\": %llu, \"read_latency_mean\": "
        "%.3f, \"tck_ns\": %.4f, \"wall_s\": %.4f}\n",
        n, (unsigned long long)reads, (unsigned long long)last_read,
        reads ? latency_sum / double(reads) : 0.0, mem.GetTCK(), wall);
    return 0;
}
