#include "../../lib/buf.h"
#include "unit.h"

void
suite_buf(void)
{
	struct buf b;
	int i;

	buf_init(&b, 10);
	CHECK(buf_len(&b) == 0);
	CHECK(buf_append(&b, "hello", 5) == BUF_OK);
	CHECK(buf_append_str(&b, "world") == BUF_OK);
	CHECK(buf_len(&b) == 10);
	/* The limit is hard: one byte more is refused, nothing changes. */
	CHECK(buf_append_byte(&b, '!') == BUF_FULL);
	CHECK(buf_len(&b) == 10);
	CHECK_MEM(buf_head(&b), buf_len(&b), "helloworld");
	buf_consume(&b, 5);
	CHECK_MEM(buf_head(&b), buf_len(&b), "world");
	/* Consumed room is reused by sliding, not by growing past the limit. */
	CHECK(buf_append(&b, "12345", 5) == BUF_OK);
	CHECK_MEM(buf_head(&b), buf_len(&b), "world12345");
	CHECK(b.cap <= 10);
	buf_consume(&b, 10);
	CHECK(buf_len(&b) == 0 && b.start == 0);
	CHECK(buf_reserve(&b, 11) == BUF_FULL);
	CHECK(buf_reserve(&b, 10) == BUF_OK && buf_room(&b) >= 10);
	memcpy(buf_tail(&b), "abc", 3);
	buf_commit(&b, 3);
	CHECK_MEM(buf_head(&b), buf_len(&b), "abc");
	buf_clear(&b);
	CHECK(buf_len(&b) == 0);
	CHECK(buf_append(&b, "", 0) == BUF_OK);
	buf_free(&b);
	CHECK(b.data == NULL && b.limit == 10);

	/* Growth keeps the bytes, across many reallocations. */
	buf_init(&b, 1 << 20);
	for (i = 0; i < 100000; i++)
		if (buf_append_byte(&b, (char)('a' + i % 26)) != BUF_OK)
			break;
	CHECK(i == 100000 && buf_len(&b) == 100000);
	CHECK(buf_head(&b)[99999] == (char)('a' + 99999 % 26));
	buf_consume(&b, 99990);
	CHECK(buf_len(&b) == 10 && buf_head(&b)[0] == (char)('a' + 99990 % 26));
	buf_free(&b);
}
