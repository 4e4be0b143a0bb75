"""Lesson 10 — transactions with the callback API: the warehouse.

An order is inserted and the inventory decremented atomically. A second order
asks for more than is in stock: the callback raises, the transaction aborts,
and both collections are left exactly as they were. ``with_transaction``
retries transient errors (such as write conflicts) by itself.
"""

from __future__ import annotations

from _shared import check, lesson, run


class OutOfStock(Exception):
    pass


def place_order(db, item: str, quantity: int):  # type: ignore[no-untyped-def]
    async def callback(session) -> None:  # type: ignore[no-untyped-def]
        await db.orders.insert_one({"item": item, "quantity": quantity}, session=session)
        taken = await db.inventory.update_one(
            {"_id": item, "stock": {"$gte": quantity}}, {"$inc": {"stock": -quantity}},
            session=session)
        if taken.modified_count != 1:
            raise OutOfStock(item)  # aborts: the order above is rolled back too

    return callback


async def main() -> None:
    async with lesson("transactions") as (client, db):
        await db.inventory.insert_one({"_id": "abc", "stock": 10})
        await db.create_collection("orders")  # collections are created outside transactions

        async with await client.start_session() as session:
            await session.with_transaction(place_order(db, "abc", 4))
        check(await db.orders.count_documents({}) == 1, "the order was recorded")
        check((await db.inventory.find_one({"_id": "abc"}))["stock"] == 6, "stock 10 → 6")

        async with await client.start_session() as session:
            try:
                await session.with_transaction(place_order(db, "abc", 50))
                check(False, "an order beyond the stock fails")
            except OutOfStock:
                check(True, "an order beyond the stock fails")
        check(await db.orders.count_documents({}) == 1, "no second order was left behind")
        check((await db.inventory.find_one({"_id": "abc"}))["stock"] == 6, "stock unchanged")


if __name__ == "__main__":
    run(main)
