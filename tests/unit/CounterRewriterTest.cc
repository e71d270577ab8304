#include <gtest/gtest.h>

#include <vector>

#include "CounterRewriter.h"

namespace vmft::hypervisor {
namespace {

constexpr uint64_t kCodeBase = 0x80000000;
constexpr unsigned kA0 = 10;
constexpr unsigned kA5 = 15;
constexpr unsigned kT0 = 5;

constexpr unsigned kCsrrw = 1;
constexpr unsigned kCsrrs = 2;
constexpr unsigned kCsrrc = 3;
constexpr unsigned kCsrrwi = 5;
constexpr unsigned kCsrrsi = 6;
constexpr unsigned kCsrrci = 7;

constexpr uint16_t kCsrMstatus = 0x300;
constexpr uint16_t kCsrMepc = 0x341;
constexpr uint16_t kCsrHpmcounter3 = 0xC03;

constexpr uint32_t kNop = 0x00000013;  // addi x0, x0, 0

constexpr uint32_t csr_instruction(unsigned funct3, unsigned rd, uint16_t csr, unsigned rs1 = 0) {
  return uint32_t{csr} << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | 0x73;
}

// Spot checks against the assembler, so the encoder above is not only checked against itself.
static_assert(csr_instruction(kCsrrs, kA5, kCsrCycle) == 0xc00027f3);    // rdcycle a5
static_assert(csr_instruction(kCsrrs, kA5, kCsrTime) == 0xc01027f3);     // rdtime a5
static_assert(csr_instruction(kCsrrs, kA5, kCsrInstret) == 0xc02027f3);  // rdinstret a5
static_assert(csr_instruction(kCsrrw, 0, 0x305, kT0) == 0x30529073);     // csrw mtvec, t0

std::vector<uint8_t> little_endian(const std::vector<uint32_t>& words) {
  std::vector<uint8_t> bytes;
  for (uint32_t word : words) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(word >> (8 * i)));
  }
  return bytes;
}

uint32_t word_at(const ElfSegment& segment, size_t offset) {
  const uint8_t* b = segment.bytes.data() + offset;
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

ElfSegment segment(uint64_t vaddr, std::vector<uint8_t> bytes, bool executable = true) {
  ElfSegment result;
  result.vaddr = vaddr;
  result.mem_size = bytes.size();
  result.executable = executable;
  result.bytes = std::move(bytes);
  return result;
}

GuestImage image_with_code(const std::vector<uint32_t>& words) {
  GuestImage image;
  image.entry = kCodeBase;
  image.segments.push_back(segment(kCodeBase, little_endian(words)));
  return image;
}

// Rewrites `image` as if all of every segment were code, as for a file without sections.
size_t rewrite_all(CounterRewriter& rewriter, GuestImage& image) {
  image.code.clear();
  for (const ElfSegment& s : image.segments) {
    image.code.push_back({s.vaddr, s.vaddr + s.bytes.size()});
  }
  return rewriter.rewrite(image);
}

TEST(CounterRewriter, RewritesRdcycleToTime) {
  GuestImage image = image_with_code({kNop, csr_instruction(kCsrrs, kA5, kCsrCycle)});
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 1u);
  EXPECT_EQ(word_at(image.segments[0], 4), csr_instruction(kCsrrs, kA5, kCsrTime));
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 4), kCsrCycle);
}

TEST(CounterRewriter, RewritesRdinstretToTime) {
  GuestImage image = image_with_code({csr_instruction(kCsrrs, kA5, kCsrInstret)});
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 1u);
  EXPECT_EQ(word_at(image.segments[0], 0), csr_instruction(kCsrrs, kA5, kCsrTime));
  EXPECT_EQ(rewriter.original_csr(kCodeBase), kCsrInstret);
}

TEST(CounterRewriter, RewritesMachineCounters) {
  GuestImage image = image_with_code(
      {csr_instruction(kCsrrs, kA0, kCsrMcycle), csr_instruction(kCsrrs, kA0, kCsrMinstret)});
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 2u);
  EXPECT_EQ(word_at(image.segments[0], 0), csr_instruction(kCsrrs, kA0, kCsrTime));
  EXPECT_EQ(word_at(image.segments[0], 4), csr_instruction(kCsrrs, kA0, kCsrTime));
  EXPECT_EQ(rewriter.original_csr(kCodeBase), kCsrMcycle);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 4), kCsrMinstret);
}

TEST(CounterRewriter, KeepsEveryFieldButTheCsr) {
  std::vector<uint32_t> words;
  for (unsigned funct3 : {kCsrrw, kCsrrs, kCsrrc, kCsrrwi, kCsrrsi, kCsrrci}) {
    words.push_back(csr_instruction(funct3, kA5, kCsrMcycle, 0x1b));
  }
  GuestImage image = image_with_code(words);
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), words.size());
  for (size_t i = 0; i < words.size(); ++i) {
    std::optional<CsrInstruction> original = decode_csr_instruction(words[i]);
    std::optional<CsrInstruction> rewritten =
        decode_csr_instruction(word_at(image.segments[0], 4 * i));
    ASSERT_TRUE(original && rewritten);
    EXPECT_EQ(rewritten->csr, kCsrTime);
    EXPECT_EQ(rewritten->rd, original->rd);
    EXPECT_EQ(rewritten->funct3, original->funct3);
    EXPECT_EQ(rewritten->rs1, original->rs1);
  }
}

TEST(CounterRewriter, LeavesRdtimeUntouched) {
  uint32_t rdtime = csr_instruction(kCsrrs, kA5, kCsrTime);
  GuestImage image = image_with_code({rdtime});
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(word_at(image.segments[0], 0), rdtime);
  EXPECT_EQ(rewriter.original_csr(kCodeBase), std::nullopt);
}

TEST(CounterRewriter, LeavesOtherCsrsUntouched) {
  std::vector<uint32_t> words = {csr_instruction(kCsrrw, 0, kCsrMstatus, kT0),
                                 csr_instruction(kCsrrs, kA0, kCsrMepc),
                                 csr_instruction(kCsrrs, kA0, kCsrHpmcounter3)};
  GuestImage image = image_with_code(words);
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(image.segments[0].bytes, little_endian(words));
}

TEST(CounterRewriter, LeavesSystemInstructionsThatAreNotCsrAccessesUntouched) {
  // Counter CSR numbers in the csr field, but funct3 0 (ecall's group) and 4 (reserved).
  std::vector<uint32_t> words = {csr_instruction(0, kA5, kCsrCycle),
                                 csr_instruction(4, kA5, kCsrCycle)};
  GuestImage image = image_with_code(words);
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(image.segments[0].bytes, little_endian(words));
}

TEST(CounterRewriter, LeavesNonExecutableSegmentsUntouched) {
  std::vector<uint8_t> data = little_endian({csr_instruction(kCsrrs, kA5, kCsrCycle)});
  GuestImage image;
  image.segments.push_back(segment(kCodeBase + 0x1000, data, /*executable=*/false));
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(image.segments[0].bytes, data);
  EXPECT_EQ(rewriter.size(), 0u);
}

// A linker script may put constants in the same executable segment as the code: only the
// code's words are instructions.
TEST(CounterRewriter, LeavesDataOutsideTheCodeUntouchedInAnExecutableSegment) {
  const uint32_t counter = csr_instruction(kCsrrs, kA5, kCsrCycle);
  GuestImage image = image_with_code({counter, kNop, counter, counter});
  image.code = {{kCodeBase, kCodeBase + 8}};
  CounterRewriter rewriter;

  EXPECT_EQ(rewriter.rewrite(image), 1u);
  EXPECT_EQ(word_at(image.segments[0], 0), csr_instruction(kCsrrs, kA5, kCsrTime));
  EXPECT_EQ(word_at(image.segments[0], 8), counter);
  EXPECT_EQ(word_at(image.segments[0], 12), counter);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 8), std::nullopt);
}

TEST(CounterRewriter, SkipsUnalignedWords) {
  // The segment starts 2 bytes past a word boundary, so its first 4 bytes straddle two words.
  std::vector<uint8_t> bytes = little_endian({csr_instruction(kCsrrs, kA5, kCsrCycle)});
  bytes.insert(bytes.end(), {0, 0});
  GuestImage image;
  image.segments.push_back(segment(kCodeBase + 2, bytes));
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(image.segments[0].bytes, bytes);
}

TEST(CounterRewriter, FindsAlignedWordsInUnalignedSegment) {
  std::vector<uint8_t> bytes = {0, 0};
  for (uint8_t byte : little_endian({csr_instruction(kCsrrs, kA5, kCsrCycle)})) {
    bytes.push_back(byte);
  }
  GuestImage image;
  image.segments.push_back(segment(kCodeBase + 2, bytes));
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 1u);
  EXPECT_EQ(word_at(image.segments[0], 2), csr_instruction(kCsrrs, kA5, kCsrTime));
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 4), kCsrCycle);
}

TEST(CounterRewriter, IgnoresTrailingPartialWord) {
  std::vector<uint8_t> bytes = little_endian({kNop, csr_instruction(kCsrrs, kA5, kCsrCycle)});
  bytes.resize(7);
  GuestImage image;
  image.segments.push_back(segment(kCodeBase, bytes));
  CounterRewriter rewriter;

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(image.segments[0].bytes, bytes);
}

TEST(CounterRewriter, RecordsEveryRewrittenPc) {
  GuestImage image = image_with_code({csr_instruction(kCsrrs, kA5, kCsrCycle), kNop,
                                      csr_instruction(kCsrrs, kA5, kCsrTime),
                                      csr_instruction(kCsrrs, kA0, kCsrMinstret)});
  image.segments.push_back(
      segment(kCodeBase + 0x2000, little_endian({csr_instruction(kCsrrs, kA5, kCsrInstret)})));
  CounterRewriter rewriter;
  rewrite_all(rewriter, image);

  EXPECT_EQ(rewriter.size(), 3u);
  EXPECT_EQ(rewriter.original_csr(kCodeBase), kCsrCycle);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 4), std::nullopt);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 8), std::nullopt);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 12), kCsrMinstret);
  EXPECT_EQ(rewriter.original_csr(kCodeBase + 0x2000), kCsrInstret);
}

TEST(CounterRewriter, SecondRewriteChangesNothingAndKeepsTheTable) {
  GuestImage image = image_with_code({csr_instruction(kCsrrs, kA5, kCsrCycle)});
  CounterRewriter rewriter;
  rewrite_all(rewriter, image);

  EXPECT_EQ(rewrite_all(rewriter, image), 0u);
  EXPECT_EQ(rewriter.original_csr(kCodeBase), kCsrCycle);
}

TEST(DecodeCsrInstruction, DecodesRegisterForm) {
  std::optional<CsrInstruction> decoded =
      decode_csr_instruction(csr_instruction(kCsrrc, kA5, kCsrMstatus, kT0));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->rd, kA5);
  EXPECT_EQ(decoded->funct3, kCsrrc);
  EXPECT_EQ(decoded->rs1, kT0);
  EXPECT_EQ(decoded->csr, kCsrMstatus);
}

TEST(DecodeCsrInstruction, DecodesImmediateFormWithImmediateInRs1) {
  std::optional<CsrInstruction> decoded = decode_csr_instruction(0x30046073);  // csrsi mstatus, 8
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->rd, 0u);
  EXPECT_EQ(decoded->funct3, kCsrrsi);
  EXPECT_EQ(decoded->rs1, 8u);
  EXPECT_EQ(decoded->csr, kCsrMstatus);
}

TEST(DecodeCsrInstruction, DecodesHighestCsrNumber) {
  std::optional<CsrInstruction> decoded = decode_csr_instruction(csr_instruction(kCsrrs, 1, 0xFFF));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->csr, 0xFFF);
}

TEST(DecodeCsrInstruction, RejectsOtherSystemInstructions) {
  EXPECT_EQ(decode_csr_instruction(0x00000073), std::nullopt);  // ecall
  EXPECT_EQ(decode_csr_instruction(0x30200073), std::nullopt);  // mret
  EXPECT_EQ(decode_csr_instruction(0x10500073), std::nullopt);  // wfi
  EXPECT_EQ(decode_csr_instruction(csr_instruction(4, kA5, kCsrCycle)), std::nullopt);
}

TEST(DecodeCsrInstruction, RejectsOtherOpcodes) {
  EXPECT_EQ(decode_csr_instruction(kNop), std::nullopt);
  EXPECT_EQ(decode_csr_instruction(csr_instruction(kCsrrs, kA5, kCsrCycle) ^ 0x40), std::nullopt);
}

}  // namespace
}  // namespace vmft::hypervisor
